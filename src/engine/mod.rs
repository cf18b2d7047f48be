//! The orchestrator of a stage run: reads the overrides once (`crate::distro`), builds the one
//! context every stage acts through (host paths, the command runner, device timeout, run dir,
//! the state file), loads the cached config for the stages after fetch, runs the stage, and
//! saves the state when the stage changed it (also when the stage failed: keys of volumes
//! already opened must not be lost). Stages never call back into it.

use crate::cli::{Stage, StageArgs};
use crate::config::types::Config;
use crate::error::{Error, Result};
use crate::providers::HostPaths;
use crate::resource::Fetcher;
use crate::stages::{disks, fetch, files, kargs, mount};
use crate::state::State;
use crate::sys::cmd::{RealRunner, Runner};
use crate::sys::root::Root;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the stages that touch devices and commands act through.
pub struct Env<'a> {
    pub runner: &'a dyn Runner,
    /// Where /dev, /sys, /proc and /run/udev are read.
    pub host: HostPaths,
    /// How long to wait for a device the config names (systemd's default: 90 s).
    pub device_timeout: Duration,
    /// Ignition's run directory (/run/ignition): LUKS key files go below it.
    pub run_dir: PathBuf,
}

impl Env<'_> {
    /// The environment the overrides describe, with `runner`.
    pub fn from_distro(runner: &dyn Runner) -> Env<'_> {
        Env {
            runner,
            host: HostPaths::new(crate::distro::host_root()),
            device_timeout: crate::distro::device_timeout(),
            run_dir: PathBuf::from("/run/ignition"),
        }
    }
}

/// One stage run's context.
pub struct Context<'a> {
    pub args: &'a StageArgs,
    pub env: Env<'a>,
    /// Loaded on first use (a stage with nothing to do never reads it).
    state: Option<State>,
    /// Whether the stage asked for the state mutably: it is saved then.
    dirty: bool,
}

impl<'a> Context<'a> {
    /// The context for `args`: the overrides' host paths and device timeout, `runner`, and the
    /// state file's directory as the run directory.
    pub fn new(args: &'a StageArgs, runner: &'a dyn Runner) -> Context<'a> {
        let mut env = Env::from_distro(runner);
        if let Some(dir) = args
            .state_file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            env.run_dir = dir.to_path_buf();
        }
        Context {
            args,
            env,
            state: None,
            dirty: false,
        }
    }

    fn loaded(&mut self) -> Result<&mut State> {
        match &mut self.state {
            Some(s) => Ok(s),
            slot => Ok(slot.insert(State::load(&self.args.state_file)?)),
        }
    }

    /// The state as earlier stages left it.
    pub fn state(&mut self) -> Result<&State> {
        self.loaded().map(|s| &*s)
    }

    /// The state, to change: it is saved after the stage.
    pub fn state_mut(&mut self) -> Result<&mut State> {
        self.dirty = true;
        self.loaded()
    }

    /// The environment and the state to change, at once (the state is saved after the stage).
    pub fn env_and_state(&mut self) -> Result<(&Env<'a>, &mut State)> {
        self.dirty = true;
        if self.state.is_none() {
            self.state = Some(State::load(&self.args.state_file)?);
        }
        match &mut self.state {
            Some(s) => Ok((&self.env, s)),
            None => Err(Error::failed("the state was not loaded")),
        }
    }

    /// The target root, opened for confined access.
    pub fn root(&self) -> Result<Root> {
        Root::open(&self.args.root)
    }

    /// A fetcher with the config's settings (its CAs are inlined data URLs by now).
    pub fn fetcher(&self, cfg: &Config) -> Result<Fetcher> {
        Ok(Fetcher::new(crate::resource::fetch_options(cfg)?, false))
    }

    /// Saves the state if the stage changed it.
    fn save(&self) -> Result<()> {
        match (&self.state, self.dirty) {
            (Some(s), true) => s.save(&self.args.state_file),
            _ => Ok(()),
        }
    }
}

/// Reads the cached config the fetch stages left.
pub fn load_cache(path: &Path) -> Result<Config> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::failed(format!(
            "reading the config cache {}: {e} (did the fetch stages run?)",
            path.display()
        ))
    })?;
    crate::config::parse_cached_owned(bytes)
        .map(|p| p.config)
        .map_err(|e| {
            Error::failed(format!(
                "the config cache {} is not valid: {e}",
                path.display()
            ))
        })
}

/// Runs one stage with the real command runner.
pub fn run(args: &StageArgs) -> Result<()> {
    run_with(args, &RealRunner)
}

/// Runs one stage: context, cached config (after fetch), the stage, the state.
pub fn run_with(args: &StageArgs, runner: &dyn Runner) -> Result<()> {
    let mut ctx = Context::new(args, runner);
    let r = dispatch(&mut ctx);
    // A failed save is reported over the stage's result: the next stage would act on a stale
    // state otherwise.
    ctx.save()?;
    r
}

fn dispatch(ctx: &mut Context) -> Result<()> {
    // The cached config is not freed: the process ends with the stage, and freeing a config
    // of tens of thousands of strings one by one is work for nothing (files-10000: ~440
    // munmaps of musl's allocator groups).
    fn cached(ctx: &mut Context, stage: fn(&mut Context, &Config) -> Result<()>) -> Result<()> {
        let cfg = std::mem::ManuallyDrop::new(load_cache(&ctx.args.config_cache)?);
        stage(ctx, &cfg)
    }
    match ctx.args.stage {
        Stage::FetchOffline => fetch::run(ctx, true),
        Stage::Fetch => fetch::run(ctx, false),
        Stage::Kargs => cached(ctx, kargs::run),
        Stage::Disks => cached(ctx, disks::run),
        Stage::Mount => cached(ctx, |c, cfg| mount::run(c, cfg, false)),
        Stage::Files => cached(ctx, files::run),
        Stage::Umount => cached(ctx, |c, cfg| mount::run(c, cfg, true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::cmd::RecordingRunner;
    use std::time::Duration;

    fn args(dir: &Path, stage: Stage) -> StageArgs {
        StageArgs {
            platform: "file".into(),
            stage,
            root: dir.join("root"),
            config_cache: dir.join("run/config.json"),
            neednet: dir.join("run/neednet"),
            state_file: dir.join("run/state"),
            fetch_timeout: Duration::from_secs(1),
            log_to_stdout: true,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        // Outlives this helper, as the paths it hands out do.
        let d = tempfile::Builder::new()
            .prefix(&format!("ignis-{name}-"))
            .tempdir()
            .unwrap()
            .keep();
        std::fs::create_dir_all(d.join("root")).unwrap();
        d
    }

    #[test]
    fn the_state_is_saved_only_when_a_stage_changed_it() {
        let d = tmp("state");
        let a = args(&d, Stage::Files);
        let r = RecordingRunner::new();
        let mut ctx = Context::new(&a, &r);
        assert_eq!(ctx.env.run_dir, d.join("run"));
        assert!(!ctx.state().unwrap().user_config_provided);
        ctx.save().unwrap();
        assert!(!a.state_file.exists(), "read-only use wrote the state");
        ctx.state_mut().unwrap().user_config_provided = true;
        ctx.save().unwrap();
        assert!(State::load(&a.state_file).unwrap().user_config_provided);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_stage_after_fetch_needs_the_cache() {
        let d = tmp("cache");
        let r = RecordingRunner::new();
        let e = run_with(&args(&d, Stage::Kargs), &r).unwrap_err();
        assert!(e.to_string().contains("did the fetch stages run?"), "{e}");
        std::fs::create_dir_all(d.join("run")).unwrap();
        std::fs::write(
            d.join("run/config.json"),
            b"{\"ignition\":{\"version\":\"3.4.0\"}}",
        )
        .unwrap();
        // Nothing to do: no command runs, no state is written.
        run_with(&args(&d, Stage::Kargs), &r).unwrap();
        run_with(&args(&d, Stage::Disks), &r).unwrap();
        run_with(&args(&d, Stage::Mount), &r).unwrap();
        assert!(r.argvs().is_empty());
        assert!(!d.join("run/state").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
