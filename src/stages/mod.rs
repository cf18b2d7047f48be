//! Stage dispatch: one function per stage, given the command-line arguments. Stages not built
//! yet fail with a clear error rather than pretending to succeed.

pub mod disks;
pub mod fetch;
pub mod files;
pub mod mount;

use crate::cli::{Stage, StageArgs};
use crate::error::{Error, Result};

pub fn run(args: &StageArgs) -> Result<()> {
    match args.stage {
        Stage::FetchOffline => fetch::run(args, true),
        Stage::Fetch => fetch::run(args, false),
        Stage::Files => files::run(args),
        Stage::Disks => disks::run(args),
        Stage::Mount => mount::run(args, false),
        Stage::Umount => mount::run(args, true),
        Stage::Kargs => Err(Error::failed(format!(
            "stage {} is not implemented yet in this build of ignis",
            args.stage.name()
        ))),
    }
}
