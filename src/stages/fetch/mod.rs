//! The fetch-offline and fetch stages: acquire the config, cache it, and run the neednet
//! handshake with the initramfs (fetch-offline touches the flag when the network is needed;
//! fetch then runs with the network up).

mod acquire;
mod user;

pub use acquire::{acquire, needs_network, parse_checked, Acquired, Sources};

use crate::engine::Context;
use crate::error::{Kind, Result};
use crate::providers::{mounter::RealMounter, Platform};
use crate::state;

pub fn run(ctx: &mut Context, offline: bool) -> Result<()> {
    let stage = if offline { "fetch-offline" } else { "fetch" };
    let args = ctx.args;
    let platform = Platform::parse(&args.platform)?;
    if !offline && args.config_cache.exists() {
        log::info!(
            "{stage}: config already cached at {}, nothing to fetch",
            args.config_cache.display()
        );
        return Ok(());
    }
    let mounter = RealMounter::new();
    let src = Sources {
        host: &ctx.env.host,
        platform,
        mounter: &mounter,
        fetch_timeout: args.fetch_timeout,
    };
    // Not wrapped in log::op: in fetch-offline, "needs the network" is the expected handshake,
    // not a failure, and must not print as one on the console.
    log::info!("{stage}: acquiring config (platform {})", platform.id());
    let mut acquired = match acquire(&src, offline) {
        Ok(a) => a,
        Err(e) if offline && e.kind() == Kind::NeedNet => {
            log::info!("{stage}: {e}; the fetch stage will run with networking");
            state::touch(&args.neednet)?;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    // Written as it is serialised: a config carrying a large data URL is not held twice.
    state::write_atomic_with(&args.config_cache, 0o640, &mut |w| {
        crate::config::write_cache_json(&mut acquired.config, w)
    })?;
    log::info!("{stage}: config cached at {}", args.config_cache.display());
    if offline && needs_network(&acquired.config) {
        log::info!("{stage}: the config fetches resources over the network: requesting networking");
        state::touch(&args.neednet)?;
    }
    let st = ctx.state_mut()?;
    st.fetched_configs = acquired.fetched;
    st.user_config_provided = acquired.user_config_provided;
    // Not freed string by string right before the process ends (as the stages that read the
    // cache keep theirs).
    std::mem::forget(acquired.config);
    Ok(())
}
