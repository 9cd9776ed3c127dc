//! permessage-deflate between the handshake and the connection: one local preset
//! ([`Config::deflate`](crate::Config::deflate)) becomes a client's offer or a
//! server's policy, and the agreed parameters become the connection's
//! [`DeflateConfig`], seen from this end.
//!
//! The two protocol crates do not know each other (each makes sense alone), so
//! the glue lives in the binding, as field-for-field copies: every RFC 7692 rule
//! stays with the crate that owns it. What an offer leaves out is
//! [`DeflateOffer::with_windows`]'s; the agreed `server_*` / `client_*` parameters
//! go back through [`DeflateConfig::negotiated_as`], which knows the roles.

use tidings_handshake::deflate::{DeflateOffer, DeflateParams, DeflatePolicy};
use tidings_handshake::{Accept, ClientBuilder};
use tidings_ws::{DeflateConfig, Role};

use crate::config::Config;

/// The server side: its answer, accepting an offer within [`Config::deflate`], and
/// the config with the agreed parameters.
pub(crate) fn accept(accept: Accept<'_>, config: Config) -> (Accept<'_>, Config) {
    let accept = match &config.deflate {
        Some(preset) => accept.deflate(&policy(preset)),
        None => accept,
    };
    let params = accept.chosen_deflate();
    (accept, accepted(params, config))
}

/// A server's config once it agreed on `params` (from its own policy), if it did.
pub(crate) fn accepted(params: Option<DeflateParams>, mut config: Config) -> Config {
    if let (Some(preset), Some(params)) = (config.deflate, params) {
        config.ws.deflate = Some(agreed(preset, Role::Server, params));
    }
    config
}

/// The client side: its handshake, offering permessage-deflate when
/// [`Config::deflate`] asks; once the server answered, [`connected`].
pub(crate) fn offer_in(builder: ClientBuilder, config: &Config) -> ClientBuilder {
    match &config.deflate {
        Some(preset) => builder.deflate(offer(preset)),
        None => builder,
    }
}

/// A client's config once the server agreed on `params`, if it did. A server that
/// accepted an offer made by hand (through the builder) is served with the default
/// preset.
pub(crate) fn connected(params: Option<DeflateParams>, mut config: Config) -> Config {
    if let Some(params) = params {
        let preset = config.deflate.unwrap_or_default();
        config.ws.deflate = Some(agreed(preset, Role::Client, params));
    }
    config
}

/// What a server accepts and asks for, from its preset.
pub(crate) fn policy(preset: &DeflateConfig) -> DeflatePolicy {
    let mut policy = DeflatePolicy::default();
    policy.server_no_context_takeover = preset.compress_no_context_takeover;
    policy.client_no_context_takeover = preset.decompress_no_context_takeover;
    policy.server_max_window_bits = preset.compress_window_bits;
    policy.client_max_window_bits = preset.decompress_window_bits;
    policy
}

/// What a client offers, from its preset: the browser's offer, plus whatever
/// the preset asks of the server.
pub(crate) fn offer(preset: &DeflateConfig) -> DeflateOffer {
    let windows = (preset.decompress_window_bits, preset.compress_window_bits);
    let mut offer = DeflateOffer::with_windows(windows.0, windows.1);
    offer.server_no_context_takeover = preset.decompress_no_context_takeover;
    offer.client_no_context_takeover = preset.compress_no_context_takeover;
    offer
}

/// This end's connection settings, as `role`, after the handshake agreed on
/// `params`.
pub(crate) fn agreed(preset: DeflateConfig, role: Role, params: DeflateParams) -> DeflateConfig {
    preset.negotiated_as(
        role,
        params.server_no_context_takeover,
        params.server_max_window_bits,
        params.client_no_context_takeover,
        params.client_max_window_bits,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_handshake::Extension;

    /// Whatever two presets meet, both ends agree: what one compresses with, the
    /// other inflates with at least as large a window, and context takeover matches.
    #[test]
    fn any_two_presets_agree() {
        let mut presets = vec![DeflateConfig::default(), DeflateConfig::low_memory()];
        for bits in [9, 12] {
            let mut p = DeflateConfig::default();
            p.compress_window_bits = bits;
            p.decompress_no_context_takeover = true;
            presets.push(p);
            let mut p = DeflateConfig::low_memory();
            p.decompress_window_bits = bits;
            p.compress_no_context_takeover = true;
            presets.push(p);
        }
        for c in &presets {
            for s in &presets {
                let offers = [offer(c).to_extension()];
                let (params, response) = policy(s).negotiate(&offers).expect("acceptable");
                let checked = offer(c)
                    .check_response(
                        &Extension::parse_all([response.to_string().as_bytes()]).unwrap()[0],
                    )
                    .expect("the client accepts the answer");
                assert_eq!(checked, params);
                let (client, server) = (
                    agreed(*c, Role::Client, params),
                    agreed(*s, Role::Server, params),
                );
                assert!(client.compress_window_bits <= server.decompress_window_bits.max(9));
                assert!(server.compress_window_bits <= client.decompress_window_bits.max(9));
                assert!(
                    !client.compress_no_context_takeover
                        || server.decompress_no_context_takeover
                        || !params.client_no_context_takeover
                );
                assert_eq!(
                    server.compress_no_context_takeover,
                    params.server_no_context_takeover
                );
                assert_eq!(
                    client.decompress_no_context_takeover,
                    params.server_no_context_takeover
                );
            }
        }
    }
}
