//! The VMware backdoor: raw x86-64 port I/O on 0x5658 (low bandwidth, `in eax,dx`) and 0x5659
//! (high bandwidth, `rep outsb`/`rep insb`), and the detection that must say "VMware" before any
//! port is touched. It knows registers only; the RPCI message protocol lives in
//! `providers::vmware::rpci` and must not leak in here.
//!
//! Why the ordering matters: on bare metal or another hypervisor a ring-3 access to these ports
//! without I/O privilege raises #GP (SIGSEGV for us), while VMware intercepts it. So a
//! [`Backdoor`] can only be obtained through [`open`], after CPUID (or DMI plus `iopl(3)`) and a
//! GETVERSION probe agreed.

use crate::error::{Error, Result};
use std::io;
use std::path::Path;

/// "VMXh": EAX on every backdoor call, EBX in a GETVERSION reply.
pub const MAGIC: u32 = 0x564D_5868;
/// Low-bandwidth port (one register's worth per call).
pub const PORT_LB: u16 = 0x5658;
/// High-bandwidth port (a whole buffer per call).
pub const PORT_HB: u16 = 0x5659;
/// Backdoor command: hypervisor version.
pub const CMD_GETVERSION: u16 = 0x0A;
/// CPUID leaf 0x4000_0000 vendor signature (EBX, ECX, EDX as little-endian bytes).
pub const CPUID_VENDOR: [u8; 12] = *b"VMwareVMware";

/// The registers a backdoor call reads and writes. Only the low 32 bits are meaningful, except
/// RSI/RDI, which carry buffer pointers in high-bandwidth calls. The layout is fixed: the
/// assembly below addresses the fields by offset.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regs {
    pub ax: u64,
    pub bx: u64,
    pub cx: u64,
    pub dx: u64,
    pub si: u64,
    pub di: u64,
    pub bp: u64,
}

/// The port I/O a backdoor client needs. The real implementation is [`Backdoor`]; tests use a
/// software host. Implementations of the high-bandwidth calls set the count (RCX) and the
/// buffer pointer (RSI for `hb_out`, RDI for `hb_in`) themselves, so callers cannot pass a
/// pointer that disagrees with the slice.
pub trait PortIo {
    /// Low bandwidth: `in eax, dx` with all seven registers going in and coming back.
    fn lb(&mut self, r: &mut Regs);
    /// High bandwidth out: `cld; rep outsb` of all of `data`.
    fn hb_out(&mut self, r: &mut Regs, data: &[u8]);
    /// High bandwidth in: `cld; rep insb` filling all of `buf`.
    fn hb_in(&mut self, r: &mut Regs, buf: &mut [u8]);
}

impl<T: PortIo + ?Sized> PortIo for &mut T {
    fn lb(&mut self, r: &mut Regs) {
        (**self).lb(r)
    }
    fn hb_out(&mut self, r: &mut Regs, data: &[u8]) {
        (**self).hb_out(r, data)
    }
    fn hb_in(&mut self, r: &mut Regs, buf: &mut [u8]) {
        (**self).hb_in(r, buf)
    }
}

/// Generates one backdoor function: `extern "C" fn(*mut Regs)`. It loads RAX..RBP from the
/// struct, runs `$op`, and stores them back. Written as `global_asm!` because `asm!` cannot take
/// RBX (reserved by LLVM) or RBP (frame pointer) as operands, and the backdoor needs both.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
macro_rules! backdoor_fn {
    ($name:literal, $op:literal) => {
        core::arch::global_asm!(
            concat!(".pushsection .text.", $name, ",\"ax\",@progbits"),
            concat!(".globl ", $name),
            concat!(".hidden ", $name),
            concat!(".type ", $name, ",@function"),
            ".p2align 4",
            concat!($name, ":"),
            // Callee-saved registers we clobber, and the Regs pointer (RDI is an argument).
            "push rbx",
            "push rbp",
            "push rdi",
            "mov rax, qword ptr [rdi]",
            "mov rbx, qword ptr [rdi + 8]",
            "mov rcx, qword ptr [rdi + 16]",
            "mov rdx, qword ptr [rdi + 24]",
            "mov rsi, qword ptr [rdi + 32]",
            "mov rbp, qword ptr [rdi + 48]",
            "mov rdi, qword ptr [rdi + 40]",
            $op,
            // RDI <- Regs pointer, and the stack slot keeps RDI's result.
            "xchg rdi, qword ptr [rsp]",
            "mov qword ptr [rdi], rax",
            "mov qword ptr [rdi + 8], rbx",
            "mov qword ptr [rdi + 16], rcx",
            "mov qword ptr [rdi + 24], rdx",
            "mov qword ptr [rdi + 32], rsi",
            "mov qword ptr [rdi + 48], rbp",
            "pop rax",
            "mov qword ptr [rdi + 40], rax",
            "pop rbp",
            "pop rbx",
            "ret",
            concat!(".size ", $name, ", . - ", $name),
            ".popsection",
        );
    };
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
backdoor_fn!("ignis_vmw_lb_in", "in eax, dx");
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
backdoor_fn!("ignis_vmw_hb_out", "cld\nrep outsb");
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
backdoor_fn!("ignis_vmw_hb_in", "cld\nrep insb");
// The same register plumbing around harmless arithmetic, so tests can check the shuffling on
// any x86-64 machine without touching a port.
#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
backdoor_fn!(
    "ignis_vmw_test_plumbing",
    "add rax, 1\nadd rbx, 2\nadd rcx, 3\nadd rdx, 4\nadd rsi, 5\nadd rdi, 6\nadd rbp, 7"
);

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
extern "C" {
    fn ignis_vmw_lb_in(r: *mut Regs);
    fn ignis_vmw_hb_out(r: *mut Regs);
    fn ignis_vmw_hb_in(r: *mut Regs);
    #[cfg(test)]
    fn ignis_vmw_test_plumbing(r: *mut Regs);
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
struct Token;
/// Off x86-64 Linux there is no backdoor: the token cannot be built, so neither can a `Backdoor`.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
enum Token {}

/// The real backdoor ports. Only [`open`] makes one, after detection. Not `Send`: I/O privilege
/// raised by `iopl(3)` belongs to the thread that raised it.
pub struct Backdoor {
    _token: Token,
    _not_send: std::marker::PhantomData<*const ()>,
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
impl PortIo for Backdoor {
    fn lb(&mut self, r: &mut Regs) {
        // SAFETY: the function reads and writes exactly the seven u64 fields of `*r` (an
        // exclusive reference to a repr(C) Regs), restores RBX, RBP and RSP, and touches no other
        // memory. `in eax, dx` reaches VMware's backdoor: a Backdoor exists only after `open`
        // detected VMware, so the access is answered by the hypervisor rather than faulting.
        unsafe { ignis_vmw_lb_in(r) }
    }

    fn hb_out(&mut self, r: &mut Regs, data: &[u8]) {
        r.cx = data.len() as u64;
        r.si = data.as_ptr() as u64;
        // SAFETY: as in `lb`; in addition `rep outsb` reads exactly RCX = data.len() bytes
        // starting at RSI = data.as_ptr(), all inside the borrowed slice, and writes no memory.
        unsafe { ignis_vmw_hb_out(r) }
    }

    fn hb_in(&mut self, r: &mut Regs, buf: &mut [u8]) {
        r.cx = buf.len() as u64;
        r.di = buf.as_mut_ptr() as u64;
        // SAFETY: as in `lb`; in addition `rep insb` writes exactly RCX = buf.len() bytes
        // starting at RDI = buf.as_mut_ptr(), all inside the exclusively borrowed slice (any
        // byte pattern is a valid u8). The pointer escaped through an integer, so the compiler
        // treats the opaque call as possibly writing it.
        unsafe { ignis_vmw_hb_in(r) }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
impl PortIo for Backdoor {
    fn lb(&mut self, _: &mut Regs) {
        match self._token {}
    }
    fn hb_out(&mut self, _: &mut Regs, _: &[u8]) {
        match self._token {}
    }
    fn hb_in(&mut self, _: &mut Regs, _: &mut [u8]) {
        match self._token {}
    }
}

/// Why we believe the machine is VMware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// CPUID hypervisor bit and the `VMwareVMware` leaf: the ports work even unprivileged.
    Cpuid,
    /// Only DMI says so (the admin hid the CPUID bit): ports are touched only with `iopl(3)`, so
    /// a false positive reads all-ones instead of crashing.
    Dmi,
}

/// The hypervisor vendor signature from CPUID leaf 0x4000_0000, or None when the hypervisor bit
/// (leaf 1, ECX bit 31) is clear or the CPU is not x86-64. CPUID never faults.
pub fn cpuid_hypervisor_vendor() -> Option<[u8; 12]> {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::__cpuid;
        if __cpuid(1).ecx & (1 << 31) == 0 {
            return None;
        }
        let l = __cpuid(0x4000_0000);
        let mut v = [0u8; 12];
        v[..4].copy_from_slice(&l.ebx.to_le_bytes());
        v[4..8].copy_from_slice(&l.ecx.to_le_bytes());
        v[8..].copy_from_slice(&l.edx.to_le_bytes());
        Some(v)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// Whether DMI (`/sys/class/dmi/id/{sys_vendor,product_name}` under `root`) names VMware:
/// `VMware, Inc.`, `VMware Virtual Platform`, `VMware7,1`... Unreadable files count as "no".
pub fn dmi_says_vmware(root: &Path) -> bool {
    let dir = root.join("sys/class/dmi/id");
    ["sys_vendor", "product_name"].iter().any(|f| {
        std::fs::read(dir.join(f))
            .map(|b| b.trim_ascii_start().starts_with(b"VMware"))
            .unwrap_or(false)
    })
}

/// Pure detection: CPUID first, DMI as the fallback for a hidden hypervisor bit.
pub fn detect(cpu_vendor: Option<[u8; 12]>, root: &Path) -> Option<Evidence> {
    if cpu_vendor == Some(CPUID_VENDOR) {
        Some(Evidence::Cpuid)
    } else if dmi_says_vmware(root) {
        Some(Evidence::Dmi)
    } else {
        None
    }
}

/// The hypervisor's answer to GETVERSION.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub version: u32,
    /// 2 = ESX, 4 = Workstation.
    pub product: u32,
}

/// GETVERSION: succeeds when EBX comes back as the magic (we send its complement, so an
/// untouched register cannot pass). QEMU's `vmport` answers this too, so success does not
/// prove VMware; RPCI OPEN then fails cleanly there.
pub fn get_version(p: &mut dyn PortIo) -> Option<Version> {
    let mut r = Regs {
        ax: MAGIC.into(),
        bx: (!MAGIC).into(),
        cx: CMD_GETVERSION.into(),
        dx: PORT_LB.into(),
        ..Regs::default()
    };
    p.lb(&mut r);
    (r.bx as u32 == MAGIC && r.ax as u32 != u32::MAX).then_some(Version {
        version: r.ax as u32,
        product: r.cx as u32,
    })
}

/// The gate, with its inputs passed in: returns `ports` only when detection says VMware, I/O
/// privilege is settled, and GETVERSION answers. `ports` is not touched otherwise.
pub fn open_with<P: PortIo>(
    cpu_vendor: Option<[u8; 12]>,
    root: &Path,
    iopl: impl FnOnce() -> io::Result<()>,
    mut ports: P,
) -> Result<Option<P>> {
    let Some(evidence) = detect(cpu_vendor, root) else {
        return Ok(None);
    };
    match evidence {
        Evidence::Cpuid => {
            // VMware answers unprivileged access; iopl fails under lockdown or without
            // CONFIG_X86_IOPL_IOPERM, and that is fine here.
            if let Err(e) = iopl() {
                log::debug!("vmware: iopl(3) failed ({e}); using unprivileged backdoor access");
            }
        }
        Evidence::Dmi => {
            iopl().map_err(|e| {
                Error::failed(format!(
                    "DMI names VMware but CPUID does not, and iopl(3) failed ({e}); \
                     refusing to touch the backdoor port without I/O privilege"
                ))
            })?;
        }
    }
    match get_version(&mut ports) {
        Some(v) => {
            log::debug!(
                "vmware: backdoor version {} product {} (detected by {evidence:?})",
                v.version,
                v.product
            );
            Ok(Some(ports))
        }
        None => {
            log::warn!("vmware: detected by {evidence:?} but the backdoor does not answer");
            Ok(None)
        }
    }
}

/// Detects VMware and returns the real backdoor, or None when this is not VMware (or not
/// x86-64 Linux). Use the result on the calling thread only.
pub fn open(root: &Path) -> Result<Option<Backdoor>> {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        let ports = Backdoor {
            _token: Token,
            _not_send: std::marker::PhantomData,
        };
        open_with(cpuid_hypervisor_vendor(), root, raise_iopl, ports)
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        if dmi_says_vmware(root) {
            log::warn!("vmware: the guestinfo backdoor is only supported on x86-64 Linux");
        }
        Ok(None)
    }
}

/// `iopl(3)` as a raw syscall: needs CAP_SYS_RAWIO, fails under kernel lockdown.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn raise_iopl() -> io::Result<()> {
    const SYS_IOPL: i64 = 172;
    let ret: i64;
    // SAFETY: iopl(2) takes one integer argument and reads or writes no memory of ours; the
    // `syscall` instruction clobbers RCX and R11, which are declared, and does not use our stack.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") SYS_IOPL => ret,
            in("rdi") 3u64,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn hosts(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("platforms/vmware/hosts")
            .join(name)
    }

    /// Counts calls and answers GETVERSION like VMware (or not at all).
    #[derive(Default)]
    struct Counting {
        calls: usize,
        answers: bool,
    }

    impl PortIo for Counting {
        fn lb(&mut self, r: &mut Regs) {
            self.calls += 1;
            if self.answers && r.cx == u64::from(CMD_GETVERSION) {
                r.ax = 6;
                r.bx = MAGIC.into();
                r.cx = 2;
            } else {
                r.ax = u32::MAX.into();
            }
        }
        fn hb_out(&mut self, _: &mut Regs, _: &[u8]) {
            self.calls += 1;
        }
        fn hb_in(&mut self, _: &mut Regs, _: &mut [u8]) {
            self.calls += 1;
        }
    }

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    #[test]
    fn asm_plumbing_round_trips_every_register() {
        let mut r = Regs {
            ax: 0x1000_0000_0000_0010,
            bx: 20,
            cx: 30,
            dx: 40,
            si: 50,
            di: 60,
            bp: 70,
        };
        // SAFETY: the test function only adds constants to the registers it loaded from `r`.
        unsafe { ignis_vmw_test_plumbing(&mut r) };
        let want = Regs {
            ax: 0x1000_0000_0000_0011,
            bx: 22,
            cx: 33,
            dx: 44,
            si: 55,
            di: 66,
            bp: 77,
        };
        assert_eq!(r, want);
        // Callee-saved registers survived: the test is still running, and again for luck.
        // SAFETY: as above.
        unsafe { ignis_vmw_test_plumbing(&mut r) };
        assert_eq!(r.bp, 84);
    }

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    #[test]
    fn real_backdoor_functions_link() {
        // Taking the addresses (never calling them) makes the linker resolve the global_asm
        // symbols in this binary, which nothing else here would reference.
        let fns: [unsafe extern "C" fn(*mut Regs); 3] =
            [ignis_vmw_lb_in, ignis_vmw_hb_out, ignis_vmw_hb_in];
        let addrs: Vec<usize> = fns.iter().map(|f| *f as usize).collect();
        assert!(addrs.iter().all(|&a| a != 0));
        assert!(addrs[0] != addrs[1] && addrs[1] != addrs[2] && addrs[0] != addrs[2]);
    }

    #[test]
    fn dmi_fixtures() {
        assert!(dmi_says_vmware(&hosts("esxi")));
        assert!(dmi_says_vmware(&hosts("workstation")));
        assert!(!dmi_says_vmware(&hosts("qemu")));
        assert!(!dmi_says_vmware(&hosts("no-dmi")));
    }

    #[test]
    fn detection_order() {
        let kvm = Some(*b"KVMKVMKVM\0\0\0");
        assert_eq!(
            detect(Some(CPUID_VENDOR), &hosts("qemu")),
            Some(Evidence::Cpuid)
        );
        assert_eq!(
            detect(Some(CPUID_VENDOR), &hosts("esxi")),
            Some(Evidence::Cpuid)
        );
        assert_eq!(detect(None, &hosts("esxi")), Some(Evidence::Dmi));
        assert_eq!(detect(kvm, &hosts("workstation")), Some(Evidence::Dmi));
        assert_eq!(detect(kvm, &hosts("qemu")), None);
        assert_eq!(detect(None, &hosts("no-dmi")), None);
    }

    #[test]
    fn not_vmware_touches_no_port_and_skips_iopl() {
        for (cpu, host) in [(None, "qemu"), (Some(*b"KVMKVMKVM\0\0\0"), "no-dmi")] {
            let mut p = Counting::default();
            let got = open_with(cpu, &hosts(host), || panic!("iopl called"), &mut p).unwrap();
            assert!(got.is_none());
            assert_eq!(p.calls, 0);
        }
    }

    #[test]
    fn cpuid_vmware_ignores_iopl_failure() {
        let mut p = Counting {
            answers: true,
            ..Counting::default()
        };
        let eperm = || Err(io::Error::from_raw_os_error(1));
        let got = open_with(Some(CPUID_VENDOR), &hosts("no-dmi"), eperm, &mut p).unwrap();
        assert!(got.is_some());
        assert_eq!(p.calls, 1);
    }

    #[test]
    fn dmi_only_requires_iopl() {
        let mut p = Counting {
            answers: true,
            ..Counting::default()
        };
        let eperm = || Err(io::Error::from_raw_os_error(1));
        let e = open_with(None, &hosts("esxi"), eperm, &mut p)
            .err()
            .unwrap();
        assert!(e.to_string().contains("iopl(3) failed"), "{e}");
        assert_eq!(p.calls, 0);

        let got = open_with(None, &hosts("esxi"), || Ok(()), &mut p).unwrap();
        assert!(got.is_some());
        assert_eq!(p.calls, 1);
    }

    #[test]
    fn silent_backdoor_is_not_vmware() {
        // DMI says VMware, iopl works, but the port reads all-ones (a false positive).
        let mut p = Counting::default();
        let got = open_with(None, &hosts("workstation"), || Ok(()), &mut p).unwrap();
        assert!(got.is_none());
        assert_eq!(p.calls, 1);
    }

    #[test]
    fn get_version_reads_the_reply() {
        let mut p = Counting {
            answers: true,
            ..Counting::default()
        };
        assert_eq!(
            get_version(&mut p),
            Some(Version {
                version: 6,
                product: 2
            })
        );
    }
}
