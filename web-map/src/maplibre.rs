//! MapLibre GL JS from its npm package, served at `/assets/maplibre/{file}`: the ES module,
//! its worker (which MapLibre loads from beside the module) and the stylesheet.
//!
//! Only the files MapLibre's `dist` directory ships, by plain name: a request can never reach
//! another directory. Never fetched from a CDN.

use std::path::{Path, PathBuf};

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use model::Problem;

use crate::{Error, Result};

/// The module the page imports; its presence means the package is installed.
pub const MODULE: &str = "maplibre-gl.mjs";
/// The package's files are versioned by `package-lock.json`; revalidate hourly.
const CACHE_CONTROL: &str = "public, max-age=3600";

/// The configured `dist` directory, as app data.
#[derive(Debug, Clone)]
pub struct MapLibreDir(pub PathBuf);

/// `web-map/node_modules/maplibre-gl/dist` of this source tree.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/maplibre-gl/dist")
}

/// Whether MapLibre is installed in `dir`.
pub fn check(dir: &Path) -> Result<()> {
    let module = dir.join(MODULE);
    if module.is_file() {
        Ok(())
    } else {
        Err(Error::MapLibreMissing { path: module })
    }
}

/// The content type of a file MapLibre ships, or `None` for a name this route never serves.
fn content_type(name: &str) -> Option<&'static str> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !plain {
        return None;
    }
    let extension = name.rsplit_once('.')?.1;
    match extension {
        "mjs" | "js" => Some("text/javascript; charset=utf-8"),
        "css" => Some("text/css; charset=utf-8"),
        "map" => Some("application/json"),
        _ => None,
    }
}

pub(crate) async fn file(dir: web::Data<MapLibreDir>, name: web::Path<String>) -> HttpResponse {
    let Some(mime) = content_type(&name) else {
        return problem(404, "not-found", format!("no MapLibre file `{name}`"));
    };
    let path = dir.0.join(name.as_str());
    match std::fs::read(&path) {
        Ok(bytes) => HttpResponse::Ok()
            .content_type(mime)
            .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
            .body(bytes),
        Err(_) if check(&dir.0).is_err() => {
            let err = Error::MapLibreMissing {
                path: dir.0.join(MODULE),
            };
            tracing::error!(error = %err, "a page asked for MapLibre");
            problem(503, "maplibre-missing", err.to_string())
        }
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            problem(404, "not-found", format!("no MapLibre file `{name}`"))
        }
        Err(source) => {
            let err = Error::Read { path, source };
            tracing::error!(error = %err, "reading a MapLibre file failed");
            problem(500, "internal", err.to_string())
        }
    }
}

fn problem(status: u16, slug: &str, detail: String) -> HttpResponse {
    let title = match status {
        404 => "Not found",
        503 => "Map library not installed",
        _ => "Internal error",
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("a valid status"))
        .content_type("application/problem+json")
        .json(Problem::new(status, slug, title, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_of_maplibre_files_are_served() {
        assert_eq!(
            content_type("maplibre-gl.mjs"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(
            content_type("maplibre-gl.css"),
            Some("text/css; charset=utf-8")
        );
        for name in [
            "../package.json",
            "..",
            ".hidden.js",
            "a/b.mjs",
            "LICENSE.txt",
            "x.d.ts%2f",
        ] {
            assert_eq!(content_type(name), None, "{name}");
        }
    }
}
