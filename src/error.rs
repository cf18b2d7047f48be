//! Runtime errors: a kind that maps to the exit code, a message, typed details (HTTP status,
//! errno) that callers decide on instead of parsing text, and a chain of contexts.
//! Config problems are not errors of this type until a stage decides to fail on a `Report`.

use std::fmt;

/// What went wrong, as far as the caller of the binary is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A stage or command failed (exit 1).
    Failed,
    /// The command line was wrong (exit 2).
    Usage,
    /// The environment could not be set up: state file, fetcher, kernel features (exit 3).
    Setup,
    /// The config is invalid; the report has already been printed (exit 1).
    Config,
    /// A resource needs the network while the stage runs offline (fetch-offline's handshake).
    NeedNet,
    /// The resource does not exist (HTTP 404, TFTP file not found): "no config" for providers.
    NotFound,
    /// The fetched data does not match `verification.hash`.
    HashMismatch,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Failed | Kind::Config | Kind::NeedNet | Kind::NotFound | Kind::HashMismatch => 1,
            Kind::Usage => 2,
            Kind::Setup => 3,
        }
    }
}

/// An error with a kind, a message and the contexts it passed through, outermost first.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    msg: String,
    contexts: Vec<String>,
    /// The HTTP status that caused it, for callers that decide on the number (never parsed
    /// back out of the message).
    status: Option<u16>,
    /// The OS error number that caused it (`ENOENT`, ...), for callers that decide on it.
    errno: Option<i32>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, msg: impl Into<String>) -> Self {
        Self::make(kind, msg.into())
    }

    #[inline(never)]
    fn make(kind: Kind, msg: String) -> Self {
        Error {
            kind,
            msg,
            contexts: Vec::new(),
            status: None,
            errno: None,
        }
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        Self::new(Kind::Failed, msg)
    }

    pub fn usage(msg: impl Into<String>) -> Self {
        Self::new(Kind::Usage, msg)
    }

    pub fn setup(msg: impl Into<String>) -> Self {
        Self::new(Kind::Setup, msg)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Records the HTTP status the error stands for.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The HTTP status the error stands for, if it came from an HTTP answer.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The OS error number (`libc::ENOENT`, ...) the error stands for, if it came from a system
    /// call. Contexts keep it.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }

    /// The same error under another kind (a system call failing while the environment is set
    /// up is a `Setup` error).
    pub fn with_kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    /// Wraps the error in one more context (`reading /etc/passwd`).
    pub fn context(self, ctx: impl Into<String>) -> Self {
        self.push_context(ctx.into())
    }

    // Out of line, as the conversions below: about a hundred call sites each get a small
    // generic shim instead of their own copy (the binary's size budget).
    #[inline(never)]
    fn push_context(mut self, ctx: String) -> Self {
        self.contexts.insert(0, ctx);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.contexts {
            write!(f, "{c}: ")?;
        }
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

/// The message is the `io::Error`'s text (`No such file or directory (os error 2)`); its OS
/// error number is kept as [`Error::errno`].
impl From<std::io::Error> for Error {
    #[inline(never)]
    fn from(e: std::io::Error) -> Self {
        Error {
            errno: e.raw_os_error(),
            ..Error::failed(e.to_string())
        }
    }
}

/// As an `io::Error` of that number, with the same text.
impl From<rustix::io::Errno> for Error {
    #[inline(never)]
    fn from(e: rustix::io::Errno) -> Self {
        std::io::Error::from(e).into()
    }
}

/// Adds a context to the error of a `Result`, lazily.
pub trait Context<T> {
    fn context<C: Into<String>>(self, ctx: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context<C: Into<String>>(self, ctx: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.into().context(ctx()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_reads_outermost_first() {
        let r: std::result::Result<(), std::io::Error> = Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        let e = r
            .context(|| "reading /etc/passwd")
            .context(|| "files")
            .unwrap_err();
        assert_eq!(e.to_string(), "files: reading /etc/passwd: no such file");
        assert_eq!(e.kind().exit_code(), 1);
        assert_eq!(Error::usage("x").kind().exit_code(), 2);
        assert_eq!(Error::setup("x").kind().exit_code(), 3);
    }

    #[test]
    fn the_errno_survives_contexts() {
        let r: std::result::Result<(), std::io::Error> = Err(std::io::Error::from_raw_os_error(2));
        let e = r
            .context(|| "reading /etc/passwd")
            .context(|| "files")
            .unwrap_err();
        assert_eq!(e.errno(), Some(2));
        assert_eq!(e.kind(), Kind::Failed);
        assert_eq!(
            e.to_string(),
            "files: reading /etc/passwd: No such file or directory (os error 2)"
        );
        // rustix's numbers read as the io::Error of the same number.
        let e = Error::from(rustix::io::Errno::EXIST).context("creating /etc/x");
        assert_eq!(e.errno(), Some(rustix::io::Errno::EXIST.raw_os_error()));
        assert_eq!(
            e.to_string(),
            format!(
                "creating /etc/x: {}",
                std::io::Error::from_raw_os_error(rustix::io::Errno::EXIST.raw_os_error())
            )
        );
        // An error made from text has none; a kind and a status are kept the same way.
        assert_eq!(Error::failed("x").errno(), None);
        let e = Error::new(Kind::NotFound, "HTTP 404")
            .with_status(404)
            .context("fetching x");
        assert_eq!((e.kind(), e.status()), (Kind::NotFound, Some(404)));
        // Not an OS error: no number.
        let e: Error = std::io::Error::other("custom").into();
        assert_eq!(e.errno(), None);
    }
}
