/* Test fixture for tests/passwd_differential.rs: a minimal NSS module serving /usr/lib/passwd and
 * /usr/lib/group, standing in for nss-altfiles (not packaged in Debian) so that shadow-utils run
 * with --root sees read-only accounts the way it does on rpm-ostree systems such as NestOS. */
#include <nss.h>
#include <pwd.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

static FILE *pw_fp, *gr_fp;

static enum nss_status pw_scan(FILE *fp, struct passwd *res, char *buf, size_t len, int *errnop,
                               const char *name, uid_t uid, int by_name) {
    struct passwd *p;
    int r;
    while ((r = fgetpwent_r(fp, res, buf, len, &p)) == 0) {
        if (by_name < 0) return NSS_STATUS_SUCCESS;
        if (by_name ? strcmp(p->pw_name, name) == 0 : p->pw_uid == uid) return NSS_STATUS_SUCCESS;
    }
    if (r == ERANGE) { *errnop = ERANGE; return NSS_STATUS_TRYAGAIN; }
    return NSS_STATUS_NOTFOUND;
}

static enum nss_status gr_scan(FILE *fp, struct group *res, char *buf, size_t len, int *errnop,
                               const char *name, gid_t gid, int by_name) {
    struct group *g;
    int r;
    while ((r = fgetgrent_r(fp, res, buf, len, &g)) == 0) {
        if (by_name < 0) return NSS_STATUS_SUCCESS;
        if (by_name ? strcmp(g->gr_name, name) == 0 : g->gr_gid == gid) return NSS_STATUS_SUCCESS;
    }
    if (r == ERANGE) { *errnop = ERANGE; return NSS_STATUS_TRYAGAIN; }
    return NSS_STATUS_NOTFOUND;
}

enum nss_status _nss_altfiles_getpwnam_r(const char *name, struct passwd *res, char *buf,
                                         size_t len, int *errnop) {
    FILE *fp = fopen("/usr/lib/passwd", "re");
    if (!fp) return NSS_STATUS_NOTFOUND;
    enum nss_status s = pw_scan(fp, res, buf, len, errnop, name, 0, 1);
    fclose(fp);
    return s;
}

enum nss_status _nss_altfiles_getpwuid_r(uid_t uid, struct passwd *res, char *buf, size_t len,
                                         int *errnop) {
    FILE *fp = fopen("/usr/lib/passwd", "re");
    if (!fp) return NSS_STATUS_NOTFOUND;
    enum nss_status s = pw_scan(fp, res, buf, len, errnop, NULL, uid, 0);
    fclose(fp);
    return s;
}

enum nss_status _nss_altfiles_setpwent(int stayopen) {
    (void)stayopen;
    if (pw_fp) fclose(pw_fp);
    pw_fp = fopen("/usr/lib/passwd", "re");
    return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_altfiles_endpwent(void) {
    if (pw_fp) fclose(pw_fp);
    pw_fp = NULL;
    return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_altfiles_getpwent_r(struct passwd *res, char *buf, size_t len, int *errnop) {
    if (!pw_fp) return NSS_STATUS_NOTFOUND;
    return pw_scan(pw_fp, res, buf, len, errnop, NULL, 0, -1);
}

enum nss_status _nss_altfiles_getgrnam_r(const char *name, struct group *res, char *buf,
                                         size_t len, int *errnop) {
    FILE *fp = fopen("/usr/lib/group", "re");
    if (!fp) return NSS_STATUS_NOTFOUND;
    enum nss_status s = gr_scan(fp, res, buf, len, errnop, name, 0, 1);
    fclose(fp);
    return s;
}

enum nss_status _nss_altfiles_getgrgid_r(gid_t gid, struct group *res, char *buf, size_t len,
                                         int *errnop) {
    FILE *fp = fopen("/usr/lib/group", "re");
    if (!fp) return NSS_STATUS_NOTFOUND;
    enum nss_status s = gr_scan(fp, res, buf, len, errnop, NULL, gid, 0);
    fclose(fp);
    return s;
}

enum nss_status _nss_altfiles_setgrent(int stayopen) {
    (void)stayopen;
    if (gr_fp) fclose(gr_fp);
    gr_fp = fopen("/usr/lib/group", "re");
    return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_altfiles_endgrent(void) {
    if (gr_fp) fclose(gr_fp);
    gr_fp = NULL;
    return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_altfiles_getgrent_r(struct group *res, char *buf, size_t len, int *errnop) {
    if (!gr_fp) return NSS_STATUS_NOTFOUND;
    return gr_scan(gr_fp, res, buf, len, errnop, NULL, 0, -1);
}
