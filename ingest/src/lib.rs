//! The ingest stage: everything between an upload and an accepted frame.
//!
//! Owns (so far): the pure checks a capture goes through before vision — track checks
//! ([`track`]: null island, future and stale times, time order, GNSS quality, teleports,
//! zig-zags, impossible average speed, stationary sequences), sequence splitting
//! ([`sequence`]: gaps over 60 s or 100 m, one LineString each) and the in-capture dedup
//! decisions ([`dedup`]: exact repeats, capture duplicates within 1 m and 60°). All are pure
//! functions over `model` types, tested on real drives. Routes so far: contributor accounts
//! and device registration ([`accounts`]), the upload protocol ([`uploads`]) and what the web
//! page reads ([`public`]: accepted frames and their blurred images, search, a contributor's
//! captures with per-frame outcomes). The capture judge ([`judge`]) is one pure function
//! the upload handler gathers context for; the review queue and reputation routes are in
//! [`reviews`].
//!
//! Never does: render tiles, compute rewards, or link OpenCV (vision is reached through a
//! trait this crate will own).

pub mod accounts;
pub mod dedup;
pub mod feature_params;
pub mod features_api;
pub mod footage_upkeep;
pub mod framing;
pub mod geometry;
pub mod judge;
pub mod map_features;
pub mod overlap;
pub mod problem;
pub mod public;
pub mod rate_limit;
pub mod reviews;
pub mod search_index;
pub mod search_params;
pub mod sequence;
pub mod similarity;
pub mod track;
pub mod uploads;
pub mod worker;

use actix_web::web;
use store::Store;

/// The OpenAPI document of the ingest routes; `waymark serve` serves it, merged with the
/// other stages' routes, at `GET /api/v1/openapi.json`.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    info(title = "Waymark ingest API", description = "Accounts, devices and the signed upload protocol of Waymark's dashcam agents. Errors are RFC 9457 application/problem+json with a stable `type` per reason."),
    paths(
        accounts::create_contributor,
        accounts::me,
        accounts::register_device,
        accounts::revoke_device,
        accounts::accept_driving,
        accounts::decline_driving,
        uploads::put_frame,
        uploads::post_capture,
        uploads::get_capture,
        public::get_frame,
        public::get_image,
        public::get_thumbnail,
        public::search,
        public::my_captures,
        public::my_coverage,
        features_api::list_features,
        features_api::get_feature,
        reviews::list_cases,
        reviews::decide,
        reviews::appeal,
        reviews::my_reputation,
    ),
    components(schemas(accounts::NewAccount, accounts::DeviceRegistration)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Mounts every ingest route on an actix app, with the store they use and the default
/// per-device rate limit.
pub fn configure(store: Store) -> impl FnOnce(&mut web::ServiceConfig) {
    configure_with(store, rate_limit::RateLimit::default())
}

/// [`configure`] with an explicit per-device rate limit.
pub fn configure_with(
    store: Store,
    limit: rate_limit::RateLimit,
) -> impl FnOnce(&mut web::ServiceConfig) {
    configure_with_limits(
        store,
        UploadLimits {
            rate: limit,
            ..UploadLimits::default()
        },
    )
}

/// What the upload routes allow one client.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UploadLimits {
    /// Per-device requests per second and burst.
    pub rate: rate_limit::RateLimit,
    /// How long a request body may take to arrive, in all; a slower one is answered `408`
    /// and its connection closed, so a client trickling bytes ("slow loris") cannot hold
    /// the server's connections.
    pub body_deadline: std::time::Duration,
    /// Anonymous sign-ups per client address and for the whole server.
    pub signups: rate_limit::SignupLimits,
}

impl Default for UploadLimits {
    /// Five minutes: a 2 MB frame at 7 KB/s, well below the agent's slowest link.
    fn default() -> Self {
        Self {
            rate: rate_limit::RateLimit::default(),
            body_deadline: std::time::Duration::from_secs(300),
            signups: rate_limit::SignupLimits::default(),
        }
    }
}

/// [`configure`] with explicit upload limits.
pub fn configure_with_limits(
    store: Store,
    limits: UploadLimits,
) -> impl FnOnce(&mut web::ServiceConfig) {
    configure_parts(store, limits, Routes::all())
}

/// Which of the crate's routes a server mounts: a node of the ingest role takes uploads, a
/// web node serves what the public reads.
#[derive(Debug, Clone, Copy)]
pub struct Routes {
    /// Accounts, devices and the signed upload protocol.
    pub uploads: bool,
    /// Public frames, blurred images, search, a contributor's captures and coverage.
    pub public: bool,
    /// Wraps the public routes that serve metered use (full-resolution images, search):
    /// `metering::metered` in `waymark serve`, [`public::open_route`] to serve them open.
    pub metered: public::MeterRoute,
}

impl Routes {
    /// Every route, none metered.
    pub fn all() -> Self {
        Self {
            uploads: true,
            public: true,
            metered: public::open_route,
        }
    }
}

/// [`configure_with_limits`] mounting only `routes`.
pub fn configure_parts(
    store: Store,
    limits: UploadLimits,
    routes: Routes,
) -> impl FnOnce(&mut web::ServiceConfig) {
    configure_shared(store, Limiters::new(limits), routes)
}

/// The rate limiters and the body deadline, made once per process and shared by every
/// worker thread's app (an actix server builds one app per thread: limiters made per app
/// would each allow the whole limit).
#[derive(Debug, Clone)]
pub struct Limiters {
    devices: web::Data<rate_limit::DeviceLimiter>,
    signups: web::Data<rate_limit::SignupLimiter>,
    deadline: web::Data<uploads::BodyDeadline>,
}

impl Limiters {
    pub fn new(limits: UploadLimits) -> Self {
        Self {
            devices: web::Data::new(rate_limit::DeviceLimiter::new(limits.rate)),
            signups: web::Data::new(rate_limit::SignupLimiter::new(limits.signups)),
            deadline: web::Data::new(uploads::BodyDeadline(limits.body_deadline)),
        }
    }
}

/// Mounts `routes` with limiters shared across the server's apps (pass each app a clone).
pub fn configure_shared(
    store: Store,
    limiters: Limiters,
    routes: Routes,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(store))
            .app_data(limiters.devices)
            .app_data(limiters.signups)
            .app_data(limiters.deadline);
        if routes.uploads {
            accounts::configure(config);
            uploads::configure(config);
            reviews::configure(config);
        }
        if routes.public {
            public::configure(config, routes.metered);
            features_api::configure(config, routes.metered);
        }
    }
}
