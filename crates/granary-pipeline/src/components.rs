//! The component types a pipeline may use: one table that drives validation, `granary plan`
//! and `granary list`. Each name is also a variant of the typed enum its component is read
//! into (`SourceType`, `MetadataRoute`, `TransformType`, `RefFormat`); a test keeps the two in
//! step, so a registered name always means exactly one behaviour.

/// The kind of a component: the table it is declared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Source,
    Extractor,
    Transform,
    Sink,
}

impl Kind {
    pub fn table(self) -> &'static str {
        match self {
            Kind::Source => "sources",
            Kind::Extractor => "extractors",
            Kind::Transform => "transforms",
            Kind::Sink => "sinks",
        }
    }
}

/// One registered component type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentType {
    pub kind: Kind,
    pub name: &'static str,
    /// Types this one accepts as input (empty for sources).
    pub accepts: &'static [&'static str],
    pub description: &'static str,
}

/// Every component type.
pub const REGISTRY: &[ComponentType] = &[
    ComponentType {
        kind: Kind::Source,
        name: "files",
        accepts: &[],
        description: "granules named by paths, directories, globs or URLs (file://, s3://, https://)",
    },
    ComponentType {
        kind: Kind::Source,
        name: "cmr",
        accepts: &[],
        description: "granules a NASA CMR search finds (collection, provider, time range, bounding box), their S3 or HTTPS links",
    },
    ComponentType {
        kind: Kind::Extractor,
        name: "auto",
        accepts: &["files", "cmr"],
        description: "metadata from the <granule>.dmrpp sidecar when it exists and parses, else by scanning the HDF5 file",
    },
    ComponentType {
        kind: Kind::Extractor,
        name: "dmrpp",
        accepts: &["files", "cmr"],
        description: "metadata from DMR++ sidecars only (a granule without one is an error)",
    },
    ComponentType {
        kind: Kind::Extractor,
        name: "hdf5",
        accepts: &["files", "cmr"],
        description: "metadata by scanning the HDF5/netCDF-4 files (batched range reads)",
    },
    ComponentType {
        kind: Kind::Transform,
        name: "sql",
        accepts: &["auto", "dmrpp", "hdf5", "sql"],
        description: "a DataFusion SQL query over the inventory tables (and earlier sql transforms, by id); returns url plus concat coordinate columns",
    },
    ComponentType {
        kind: Kind::Transform,
        name: "combine",
        accepts: &["sql"],
        description: "combines the selected granules along their coordinate columns into one reference set (or one per partition)",
    },
    ComponentType {
        kind: Kind::Sink,
        name: "kerchunk_json",
        accepts: &["combine"],
        description: "kerchunk JSON v1 reference file",
    },
    ComponentType {
        kind: Kind::Sink,
        name: "kerchunk_parquet",
        accepts: &["combine"],
        description: "kerchunk Parquet reference directory (fsspec LazyReferenceMapper layout)",
    },
    ComponentType {
        kind: Kind::Sink,
        name: "icechunk",
        accepts: &["combine"],
        description: "Icechunk repository (Zarr v3 virtual dataset), one commit per run",
    },
];

/// The registered type `name` of `kind`.
pub fn lookup(kind: Kind, name: &str) -> Option<&'static ComponentType> {
    REGISTRY.iter().find(|c| c.kind == kind && c.name == name)
}

/// The type names registered for `kind`, for messages.
pub fn names(kind: Kind) -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{SourceType, TransformType};
    use granary_extract::MetadataRoute;
    use granary_refs::RefFormat;

    fn parses<T: serde::de::DeserializeOwned>(name: &str) -> bool {
        toml::Value::String(name.to_string())
            .try_into::<T>()
            .is_ok()
    }

    #[test]
    fn every_registered_name_is_a_variant_of_its_enum() {
        for c in REGISTRY {
            let ok = match c.kind {
                Kind::Source => parses::<SourceType>(c.name),
                Kind::Extractor => parses::<MetadataRoute>(c.name),
                Kind::Transform => parses::<TransformType>(c.name),
                Kind::Sink => parses::<RefFormat>(c.name),
            };
            assert!(ok, "{:?} {:?} is no variant of its enum", c.kind, c.name);
        }
        assert!(!parses::<RefFormat>("kerchunk_zip"));
    }
}
