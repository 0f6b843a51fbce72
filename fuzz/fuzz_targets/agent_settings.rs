//! The agent's settings file (`agent.toml`), layered over the defaults as `Settings::load`
//! does. The server's `waymark.toml` is not fuzzed here: the `waymark` crate links OpenCV.
#![no_main]

use dashcam_agent::Settings;
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Figment::from(Serialized::defaults(Settings::default()))
        .merge(Toml::string(text))
        .extract::<Settings>();
});
