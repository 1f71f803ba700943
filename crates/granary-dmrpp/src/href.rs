//! Where the bytes are (docs/dmrpp-reference.md section 5): the data URL of the document and
//! of each chunk. Order of rules: an explicit override; a per-chunk `href`; a root `dmrpp:href`
//! that is a real URL; otherwise (the `OPeNDAP_DMRpp_DATA_ACCESS_URL` template or a
//! catalog-relative path) the sidecar's own URL minus `.dmrpp`, or a catalog root when given.

/// The placeholder NASA sidecars carry instead of a data URL.
pub const DATA_URL_TEMPLATE: &str = "OPeNDAP_DMRpp_DATA_ACCESS_URL";
const SIDECAR_TEMPLATES: &[&str] = &[
    "OPeNDAP_DMRpp_SC_DATA_ACCESS_URL",
    "OPeNDAP_DMRpp_MISSING_DATA_ACCESS_URL",
];

/// How the data URL was found (recorded, because upstream hrefs are sometimes wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HrefRule {
    Override,
    AbsoluteUrl,
    Template,
    CatalogRelative,
    SidecarName,
}

/// How to read a DMR++ document: where it is, where its data is, what to do with variables
/// granary cannot represent.
#[derive(Debug, Clone, Default)]
pub struct DmrppOptions {
    /// Drop variables that cannot be represented (listed in [`crate::Report::skipped`]) instead of
    /// failing the document.
    pub skip_unsupported: bool,
    /// URL of the `.dmrpp` document itself.
    pub dmrpp_url: String,
    /// Use this data URL for every chunk without its own href.
    pub data_url: Option<String>,
    /// Root against which catalog-relative hrefs (`data/x.h5`, `/data/x.h5`) resolve.
    pub catalog_root: Option<String>,
}

fn is_url(s: &str) -> bool {
    s.contains("://")
}

/// The data file a sidecar sits next to: its URL cut before `.dap.dmrpp`, `.dmrpp` or
/// `.dmrpp.<suffix>` (`.dmrpp.old`, ...); for a document named otherwise (`x.xml`), the
/// `Dataset name=` file in the document's directory.
fn sidecar_data_url(dmrpp_url: &str, dataset_name: Option<&str>) -> String {
    let file = dmrpp_url.rsplit('/').next().unwrap_or(dmrpp_url);
    if let Some(at) = file.rfind(".dmrpp") {
        let cut = dmrpp_url.len() - file.len() + at;
        let base = &dmrpp_url[..cut];
        return base.strip_suffix(".dap").unwrap_or(base).to_string();
    }
    match dataset_name.filter(|n| !n.is_empty() && !n.contains('/')) {
        Some(name) => format!("{}{name}", &dmrpp_url[..dmrpp_url.len() - file.len()]),
        None => dmrpp_url.to_string(),
    }
}

fn join(root: &str, rel: &str) -> String {
    format!(
        "{}/{}",
        root.trim_end_matches('/'),
        rel.trim_start_matches('/')
    )
}

/// The document's data URL.
pub fn resolve_root(href: Option<&str>, o: &DmrppOptions) -> (String, HrefRule) {
    resolve_root_named(href, o, None)
}

/// [`resolve_root`] knowing the document's `Dataset name=`.
pub fn resolve_root_named(
    href: Option<&str>,
    o: &DmrppOptions,
    dataset_name: Option<&str>,
) -> (String, HrefRule) {
    if let Some(u) = &o.data_url {
        return (u.clone(), HrefRule::Override);
    }
    let next_to = || sidecar_data_url(&o.dmrpp_url, dataset_name);
    match href {
        Some(h) if is_url(h) => (h.to_string(), HrefRule::AbsoluteUrl),
        Some(h) if h == DATA_URL_TEMPLATE => (next_to(), HrefRule::Template),
        Some(h) if !h.is_empty() => match &o.catalog_root {
            Some(root) => (join(root, h), HrefRule::CatalogRelative),
            None => (next_to(), HrefRule::SidecarName),
        },
        _ => (next_to(), HrefRule::SidecarName),
    }
}

/// A per-chunk `href`, resolved; `None` when it names the document's own data file.
pub fn resolve_chunk(href: &str, root_url: &str, o: &DmrppOptions) -> Option<String> {
    let url = if is_url(href) {
        href.to_string()
    } else if href == DATA_URL_TEMPLATE {
        return None;
    } else if SIDECAR_TEMPLATES.contains(&href) {
        format!("{root_url}_mvs.h5")
    } else if let Some(root) = &o.catalog_root {
        join(root, href)
    } else {
        // Relative to the directory of the data file.
        match root_url.rfind('/') {
            Some(i) => join(&root_url[..i], href.rsplit('/').next().unwrap_or(href)),
            None => href.to_string(),
        }
    };
    (url != root_url).then_some(url)
}

#[cfg(test)]
mod tests {

    #[test]
    fn sidecars_under_other_names_find_their_data_file() {
        assert_eq!(
            sidecar_data_url("s3://b/d/g.nc.dmrpp", None),
            "s3://b/d/g.nc"
        );
        assert_eq!(
            sidecar_data_url("s3://b/d/g.nc.dap.dmrpp", None),
            "s3://b/d/g.nc"
        );
        assert_eq!(
            sidecar_data_url("file:///d/g.nc.dmrpp.old", None),
            "file:///d/g.nc"
        );
        assert_eq!(
            sidecar_data_url("file:///d/x.xml", Some("g.nc")),
            "file:///d/g.nc"
        );
        assert_eq!(
            sidecar_data_url("file:///d/x.xml", Some("../etc/passwd")),
            "file:///d/x.xml"
        );
        assert_eq!(
            sidecar_data_url("file:///d.dmrpp/x.xml", None),
            "file:///d.dmrpp/x.xml"
        );
    }

    use super::*;

    fn opts() -> DmrppOptions {
        DmrppOptions {
            dmrpp_url: "s3://b/g.nc.dmrpp".into(),
            ..Default::default()
        }
    }

    #[test]
    fn template_means_next_to_the_sidecar() {
        assert_eq!(
            resolve_root(Some(DATA_URL_TEMPLATE), &opts()),
            ("s3://b/g.nc".into(), HrefRule::Template)
        );
    }

    #[test]
    fn override_wins() {
        let mut o = opts();
        o.data_url = Some("https://x/y.nc".into());
        assert_eq!(
            resolve_root(Some("https://a/b.nc"), &o).1,
            HrefRule::Override
        );
    }

    #[test]
    fn catalog_relative_with_and_without_root() {
        let mut o = opts();
        assert_eq!(
            resolve_root(Some("/data/x.h5"), &o).1,
            HrefRule::SidecarName
        );
        o.catalog_root = Some("file:///cat".into());
        assert_eq!(
            resolve_root(Some("/data/x.h5"), &o),
            ("file:///cat/data/x.h5".into(), HrefRule::CatalogRelative)
        );
        assert_eq!(
            resolve_root(Some("data/x.h5"), &o).0,
            "file:///cat/data/x.h5"
        );
    }

    #[test]
    fn chunk_hrefs() {
        let o = opts();
        assert_eq!(
            resolve_chunk("data/g.nc_mvs.h5", "s3://b/g.nc", &o).as_deref(),
            Some("s3://b/g.nc_mvs.h5")
        );
        assert_eq!(
            resolve_chunk("OPeNDAP_DMRpp_SC_DATA_ACCESS_URL", "s3://b/g.nc", &o).as_deref(),
            Some("s3://b/g.nc_mvs.h5")
        );
        assert_eq!(resolve_chunk("s3://b/g.nc", "s3://b/g.nc", &o), None);
    }
}
