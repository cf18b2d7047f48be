//! Stage dispatch: one function per stage, given the command-line arguments.

pub mod disks;
pub mod fetch;
pub mod files;
pub mod kargs;
pub mod mount;

use crate::cli::{Stage, StageArgs};
use crate::error::Result;

pub fn run(args: &StageArgs) -> Result<()> {
    match args.stage {
        Stage::FetchOffline => fetch::run(args, true),
        Stage::Fetch => fetch::run(args, false),
        Stage::Files => files::run(args),
        Stage::Kargs => kargs::run(args),
        Stage::Disks => disks::run(args),
        Stage::Mount => mount::run(args, false),
        Stage::Umount => mount::run(args, true),
    }
}
