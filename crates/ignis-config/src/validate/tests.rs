//! Validation rules against small configs: each message at its JSON path, per spec version.

use super::devices::{is_guid, partitions_overlap};
use super::resources::arn_problem;
use super::*;
use crate::url;

#[test]
fn clean_like_go() {
    for (i, o) in [
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a/b/", "/a/b"),
        ("/a//b", "/a/b"),
        ("/a/./b", "/a/b"),
        ("/a/../b", "/b"),
        ("/../a", "/a"),
        ("a/../..", ".."),
        ("", "."),
    ] {
        assert_eq!(clean_path(i), o, "{i}");
    }
    assert_eq!(check_path("/a/"), Some(msg::DIRTY_PATH));
    assert_eq!(check_path("a"), Some(msg::PATH_RELATIVE));
    assert_eq!(check_path(""), Some(msg::NO_PATH));
    assert_eq!(check_path("/a"), None);
}

#[test]
fn guids() {
    assert!(is_guid("0FC63DAF-8483-4772-8E79-3D69D8477DE4"));
    assert!(is_guid("0fc63daf-8483-4772-8e79-3d69d8477de4"));
    assert!(!is_guid("0FC63DAF-8483-4772-8E79-3D69D8477DE"));
    assert!(!is_guid("0FC63DAF_8483-4772-8E79-3D69D8477DE4"));
}

#[test]
fn arns() {
    let chk = |s: &str| arn_problem(s, &url::parse(s).unwrap());
    assert_eq!(chk("arn:aws:s3:::bucket/key"), None);
    assert_eq!(
        chk("arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/k"),
        None
    );
    assert!(chk("arn:aws:s3:::bucket").is_some());
    assert!(chk("arn:aws:iam:::bucket/key").is_some());
    assert!(chk("arn:aws:s3:::bucket/key?versionId=").is_some());
}

#[test]
fn overlap() {
    let p = |s, z| Partition {
        start_mib: Some(s),
        size_mib: Some(z),
        ..Default::default()
    };
    assert_eq!(partitions_overlap(&[p(1, 10), p(5, 10)]), Some(1));
    assert_eq!(partitions_overlap(&[p(1, 10), p(11, 10)]), None);
    assert_eq!(partitions_overlap(&[p(1, 10), p(0, 10)]), None);
    assert_eq!(partitions_overlap(&[p(5, 0), p(5, 10)]), Some(1));
}
