//! The contributor web page served at `/` by `waymark serve`: the coverage map, the frame
//! viewer, search and the contributor dashboard.
//!
//! Owns the page's own files ([`page`]: HTML, CSS and modern JavaScript modules written here,
//! embedded in the binary) and serving MapLibre GL JS from its npm package ([`maplibre`]:
//! `web-map/node_modules/maplibre-gl/dist`, installed by `scripts/setup` with `npm ci`).
//!
//! Never does: read the store or answer JSON. The page reads the data over HTTP from the
//! routes of the crates that own it (`ingest`: frames, images, search, captures; `tiles`:
//! tiles and style; `rewards`: epochs and proofs). Nothing is fetched from a CDN: the page
//! works with no internet access.

mod error;
pub mod maplibre;
pub mod page;

use std::path::PathBuf;

use actix_web::web;

pub use error::{Error, Result};

/// Where the page finds what is not embedded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebMapConfig {
    /// MapLibre GL JS's `dist` directory (`maplibre-gl.mjs`, its worker, its CSS).
    pub maplibre_dir: PathBuf,
}

impl Default for WebMapConfig {
    fn default() -> Self {
        Self {
            maplibre_dir: maplibre::default_dir(),
        }
    }
}

impl WebMapConfig {
    /// Whether MapLibre is installed where the page will look for it; the error names the
    /// fix. Without it the page still loads and says why it draws no map.
    pub fn check(&self) -> Result<()> {
        maplibre::check(&self.maplibre_dir)
    }
}

/// Mounts the page (`/`, `/assets/…`) on an actix app.
pub fn configure(config: WebMapConfig) -> impl FnOnce(&mut web::ServiceConfig) {
    let dir = web::Data::new(maplibre::MapLibreDir(config.maplibre_dir));
    move |service| {
        service
            .app_data(dir)
            .route("/", web::get().to(page::index))
            .route("/assets/maplibre/{file}", web::get().to(maplibre::file))
            .route("/assets/{file}", web::get().to(page::asset));
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{App, test};

    use super::*;

    async fn get(config: WebMapConfig, path: &str) -> (u16, String, String) {
        let app = test::init_service(App::new().configure(configure(config))).await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        let status = response.status().as_u16();
        let mime = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = test::read_body(response).await;
        (status, mime, String::from_utf8_lossy(&body).into_owned())
    }

    #[actix_web::test]
    async fn the_page_and_its_modules_are_served() {
        let (status, mime, body) = get(WebMapConfig::default(), "/").await;
        assert_eq!((status, mime.as_str()), (200, "text/html; charset=utf-8"));
        assert!(body.contains(r#"<script type="module" src="/assets/app.js">"#));
        let (status, mime, body) = get(WebMapConfig::default(), "/assets/viewer.js").await;
        assert_eq!(
            (status, mime.as_str()),
            (200, "text/javascript; charset=utf-8")
        );
        assert!(body.contains("export class Viewer"));
        let (status, mime, _) = get(WebMapConfig::default(), "/assets/secrets.js").await;
        assert_eq!((status, mime.as_str()), (404, "application/problem+json"));
    }

    #[actix_web::test]
    async fn maplibre_comes_from_its_npm_package() {
        let config = WebMapConfig::default();
        config
            .check()
            .expect("scripts/setup installs MapLibre (npm ci in web-map/)");
        let (status, mime, body) = get(config, "/assets/maplibre/maplibre-gl.mjs").await;
        assert_eq!(
            (status, mime.as_str()),
            (200, "text/javascript; charset=utf-8")
        );
        assert!(body.starts_with("/**\n* MapLibre GL JS"), "{}", &body[..80]);
    }

    #[actix_web::test]
    async fn a_missing_maplibre_names_the_fix() {
        let empty = tempfile::tempdir().unwrap();
        let config = WebMapConfig {
            maplibre_dir: empty.path().to_path_buf(),
        };
        let err = config.check().unwrap_err();
        assert!(err.to_string().contains("run scripts/setup"), "{err}");
        let (status, mime, body) = get(config, "/assets/maplibre/maplibre-gl.mjs").await;
        assert_eq!((status, mime.as_str()), (503, "application/problem+json"));
        assert!(body.contains("npm ci --prefix web-map"), "{body}");
    }
}
