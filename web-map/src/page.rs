//! The page's own files, written by hand (HTML, CSS, JavaScript modules with no bundler) and
//! embedded in the binary, so `waymark serve` needs nothing beside it but MapLibre.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use model::Problem;

/// The page's files, by the name they are served under (`/assets/{name}`).
const ASSETS: [(&str, &str, &str); 7] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../assets/app.css"),
    ),
    ("app.js", JS, include_str!("../assets/app.js")),
    ("api.js", JS, include_str!("../assets/api.js")),
    ("map.js", JS, include_str!("../assets/map.js")),
    ("viewer.js", JS, include_str!("../assets/viewer.js")),
    ("search.js", JS, include_str!("../assets/search.js")),
    ("dashboard.js", JS, include_str!("../assets/dashboard.js")),
];
const JS: &str = "text/javascript; charset=utf-8";
const INDEX: &str = include_str!("../assets/index.html");
/// The page changes with the binary; revalidate rather than cache long.
const CACHE_CONTROL: &str = "no-cache";

/// The embedded file served as `/assets/{name}`.
pub fn asset_named(name: &str) -> Option<(&'static str, &'static str)> {
    ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name)
        .map(|(_, mime, body)| (*mime, *body))
}

pub(crate) async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .body(INDEX)
}

pub(crate) async fn asset(name: web::Path<String>) -> HttpResponse {
    match asset_named(&name) {
        Some((mime, body)) => HttpResponse::Ok()
            .content_type(mime)
            .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
            .body(body),
        None => HttpResponse::NotFound()
            .content_type("application/problem+json")
            .json(Problem::new(
                404,
                "not-found",
                "Not found",
                format!("the web map has no asset `{name}`"),
            )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_served() {
        let sources = std::iter::once(INDEX).chain(ASSETS.iter().map(|(_, _, body)| *body));
        for source in sources {
            for (at, _) in source.match_indices("/assets/") {
                let rest = &source[at + "/assets/".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                    .collect();
                if rest.starts_with("maplibre/") || name.is_empty() {
                    continue;
                }
                assert!(
                    asset_named(&name).is_some(),
                    "`/assets/{name}` is referenced but not embedded"
                );
            }
        }
    }
}
