//! Loading a pipeline file: TOML parsing (errors at `file:line:col`), `--set` overrides, typing
//! each component by its registered `type`, and checking the component graph.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::components::{self as registry, Kind};
use crate::error::{Location, PipelineError};
use crate::spec::{
    CombineTransformSpec, EngineSpec, EngineType, ExtractorSpec, FilesSource, RawPipeline,
    SinkSpec, SqlSpec, TransformType,
};

/// A checked pipeline: one chain source → extractor → sql... → combine → sinks.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub file: PathBuf,
    pub name: String,
    pub description: String,
    pub state_dir: PathBuf,
    pub source: (String, FilesSource),
    pub extractor: (String, ExtractorSpec),
    /// In execution order, with the query text.
    pub sql: Vec<(String, String)>,
    pub combine: (String, CombineTransformSpec),
    pub sinks: Vec<(String, SinkSpec)>,
    pub engine: EngineSpec,
}

struct Loader<'a> {
    file: &'a str,
    text: &'a str,
}

impl Loader<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> PipelineError {
        PipelineError::Config {
            location: Location::at(self.file, self.text, span.start),
            message: message.into(),
        }
    }

    fn typed<T: DeserializeOwned>(
        &self,
        kind: Kind,
        id: &str,
        t: &Spanned<toml::Table>,
    ) -> Result<(String, T), PipelineError> {
        let what = format!("{}.{id}", kind.table());
        let ty = match t.get_ref().get("type") {
            Some(toml::Value::String(s)) => s.clone(),
            Some(_) => return Err(self.err(t.span(), format!("{what}: `type` must be a string"))),
            None => {
                return Err(self.err(
                    t.span(),
                    format!(
                        "{what}: missing `type` (one of: {})",
                        registry::names(kind).join(", ")
                    ),
                ));
            }
        };
        if registry::lookup(kind, &ty).is_none() {
            return Err(self.err(
                t.span(),
                format!(
                    "{what}: unknown {} type {ty:?} (registered: {}; see `granary list`)",
                    kind.table().trim_end_matches('s'),
                    registry::names(kind).join(", ")
                ),
            ));
        }
        let typed = toml::Value::Table(t.get_ref().clone())
            .try_into::<T>()
            .map_err(|e| self.err(t.span(), format!("{what}: {}", e.message())))?;
        Ok((ty, typed))
    }
}

/// Only the `type` of a component table (the rest is read by the component's own spec).
#[derive(serde::Deserialize)]
struct TypeOnly<T> {
    #[serde(rename = "type")]
    kind: T,
}

/// Sets `dotted.key = value` in a TOML document (the value parsed as TOML, else a string).
fn apply_set(doc: &mut toml::Table, assignment: &str) -> Result<(), String> {
    let (key, value) = assignment
        .split_once('=')
        .ok_or_else(|| format!("--set {assignment:?}: expected key=value"))?;
    let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    let (last, path) = parts
        .split_last()
        .ok_or_else(|| format!("--set {assignment:?}: empty key"))?;
    let mut t = doc;
    for p in path {
        t = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| format!("--set {assignment:?}: {p} is not a table"))?;
    }
    t.insert(last.to_string(), value);
    Ok(())
}

/// Reads, overrides (`--set key=value`) and checks a pipeline file.
pub fn load(path: &Path, sets: &[String]) -> Result<Pipeline, PipelineError> {
    let file = path.display().to_string();
    let original = std::fs::read_to_string(path).map_err(|e| PipelineError::File {
        file: file.clone(),
        message: format!("cannot read: {e}"),
    })?;
    let (text, shown) = if sets.is_empty() {
        (original, file.clone())
    } else {
        let mut doc: toml::Table =
            toml::from_str(&original).map_err(|e| PipelineError::Config {
                location: Location::at(&file, &original, e.span().map_or(0, |s| s.start)),
                message: e.message().to_string(),
            })?;
        for s in sets {
            apply_set(&mut doc, s).map_err(|message| PipelineError::File {
                file: file.clone(),
                message,
            })?;
        }
        let text = toml::to_string(&doc).map_err(|e| PipelineError::File {
            file: file.clone(),
            message: format!("cannot apply --set: {e}"),
        })?;
        (text, format!("{file} (after --set)"))
    };
    let l = Loader {
        file: &shown,
        text: &text,
    };
    let raw: RawPipeline = toml::from_str(&text).map_err(|e| PipelineError::Config {
        location: Location::at(&shown, &text, e.span().map_or(0, |s| s.start)),
        message: e.message().trim().to_string(),
    })?;
    if *raw.version.get_ref() != 1 {
        return Err(l.err(
            raw.version.span(),
            format!(
                "pipeline version {} (this granary reads version 1)",
                raw.version.get_ref()
            ),
        ));
    }
    check(&l, path, raw)
}

fn single<'a>(
    l: &Loader<'_>,
    kind: Kind,
    items: &'a BTreeMap<String, Spanned<toml::Table>>,
) -> Result<(&'a String, &'a Spanned<toml::Table>), PipelineError> {
    let mut it = items.iter();
    match (it.next(), it.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => Err(l.err(0..0, format!("no {}: this version runs one chain (source → extractor → sql → combine → sinks) and needs exactly one", kind.table()))),
        (Some(_), Some((id, t))) => Err(l.err(t.span(), format!("{}.{id}: this version runs one chain and needs exactly one of {}", kind.table(), kind.table()))),
    }
}

fn check(l: &Loader<'_>, path: &Path, raw: RawPipeline) -> Result<Pipeline, PipelineError> {
    // Every id is unique across tables: inputs name ids.
    let mut kinds: BTreeMap<&str, (Kind, String)> = BTreeMap::new();
    for (kind, items) in [
        (Kind::Source, &raw.sources),
        (Kind::Extractor, &raw.extractors),
        (Kind::Transform, &raw.transforms),
        (Kind::Sink, &raw.sinks),
    ] {
        for (id, t) in items {
            let ty = t
                .get_ref()
                .get("type")
                .and_then(toml::Value::as_str)
                .unwrap_or("")
                .to_string();
            if kinds.insert(id, (kind, ty)).is_some() {
                return Err(l.err(t.span(), format!("component id {id:?} is used twice")));
            }
        }
    }
    let inputs_ok = |kind: Kind, id: &str, ty: &str, inputs: &[String], span: Range<usize>| {
        let what = format!("{}.{id}", kind.table());
        if inputs.len() != 1 {
            return Err(l.err(
                span,
                format!("{what}: `inputs` must name exactly one component"),
            ));
        }
        let accepts = registry::lookup(kind, ty).map_or(&[][..], |c| c.accepts);
        match kinds.get(inputs[0].as_str()) {
            None => Err(l.err(
                span,
                format!(
                    "{what}: input {:?} is no component of this pipeline",
                    inputs[0]
                ),
            )),
            Some((_, input_ty)) if !accepts.contains(&input_ty.as_str()) => Err(l.err(
                span,
                format!(
                    "{what}: a {ty} cannot take input {:?} (a {input_ty}); it accepts {}",
                    inputs[0],
                    accepts.join(", ")
                ),
            )),
            Some(_) => Ok(()),
        }
    };
    let (sid, st) = single(l, Kind::Source, &raw.sources)?;
    let (_, source) = l.typed::<FilesSource>(Kind::Source, sid, st)?;
    if let Err(message) = source.check() {
        return Err(l.err(st.span(), format!("sources.{sid}: {message}")));
    }
    let (eid, et) = single(l, Kind::Extractor, &raw.extractors)?;
    let (ety, extractor) = l.typed::<ExtractorSpec>(Kind::Extractor, eid, et)?;
    inputs_ok(Kind::Extractor, eid, &ety, &extractor.inputs, et.span())?;
    // Transforms: sql ones chained from the extractor, then exactly one combine.
    let mut sql = Vec::new();
    let mut combine = None;
    let mut order: Vec<(&String, &Spanned<toml::Table>)> = Vec::new();
    let mut previous = eid.clone();
    let mut remaining: Vec<(&String, &Spanned<toml::Table>)> = raw.transforms.iter().collect();
    while !remaining.is_empty() {
        let Some(i) = remaining.iter().position(|(_, t)| {
            t.get_ref()
                .get("inputs")
                .and_then(toml::Value::as_array)
                .and_then(|a| a.first())
                .and_then(toml::Value::as_str)
                == Some(previous.as_str())
        }) else {
            let (id, t) = remaining[0];
            return Err(l.err(t.span(), format!("transforms.{id}: not reachable from extractor {eid:?} in one chain (each transform takes the previous one as input)")));
        };
        let (id, t) = remaining.remove(i);
        order.push((id, t));
        previous = id.clone();
    }
    for (id, t) in order {
        let (_, ty) = l.typed::<TypeOnly<TransformType>>(Kind::Transform, id, t)?;
        match ty.kind {
            TransformType::Sql => {
                let (_, s) = l.typed::<SqlSpec>(Kind::Transform, id, t)?;
                inputs_ok(Kind::Transform, id, "sql", &s.inputs, t.span())?;
                if combine.is_some() {
                    return Err(l.err(t.span(), format!("transforms.{id}: sql after combine")));
                }
                let text = match (&s.query, &s.query_file) {
                    (Some(q), None) => q.clone(),
                    (None, Some(f)) => {
                        let p = path.parent().unwrap_or(Path::new(".")).join(f);
                        std::fs::read_to_string(&p).map_err(|e| {
                            l.err(
                                t.span(),
                                format!(
                                    "transforms.{id}: cannot read query_file {}: {e}",
                                    p.display()
                                ),
                            )
                        })?
                    }
                    _ => {
                        return Err(l.err(
                            t.span(),
                            format!(
                                "transforms.{id}: give exactly one of `query` and `query_file`"
                            ),
                        ));
                    }
                };
                // Transforms read the inventory: queries only, within the planner's bounds.
                granary_sql::check_sql(&text, granary_sql::Access::ReadOnly)
                    .map_err(|e| l.err(t.span(), format!("transforms.{id}: {e}")))?;
                sql.push((id.clone(), text));
            }
            TransformType::Combine => {
                let (_, c) = l.typed::<CombineTransformSpec>(Kind::Transform, id, t)?;
                inputs_ok(Kind::Transform, id, "combine", &c.inputs, t.span())?;
                if combine.is_some() {
                    return Err(l.err(
                        t.span(),
                        format!("transforms.{id}: this version runs one combine"),
                    ));
                }
                combine = Some((id.clone(), c));
            }
        }
    }
    let combine =
        combine.ok_or_else(|| l.err(0..0, "no combine transform: the chain must end in one"))?;
    let mut sinks = Vec::new();
    for (id, t) in &raw.sinks {
        let (ty, s) = l.typed::<SinkSpec>(Kind::Sink, id, t)?;
        inputs_ok(Kind::Sink, id, &ty, &s.inputs, t.span())?;
        sinks.push((id.clone(), s));
    }
    if sinks.is_empty() {
        return Err(l.err(0..0, "no sinks: nothing would be written"));
    }
    let engine = match raw.engine {
        None => EngineSpec::default(),
        Some(e) => {
            let span = e.span();
            let e = e.into_inner();
            if e.kind == EngineType::Embedded
                && (e.scheduler.is_some()
                    || e.granules_per_task.is_some()
                    || e.granules_per_job.is_some())
            {
                return Err(l.err(
                    span,
                    "engine: scheduler and granules_per_* are settings of type = \"ballista\"",
                ));
            }
            if e.granules_per_task == Some(0) || e.granules_per_job == Some(0) {
                return Err(l.err(
                    span,
                    "engine: granules_per_task and granules_per_job are at least 1",
                ));
            }
            e
        }
    };
    let state_dir = PathBuf::from(
        raw.state_dir
            .unwrap_or_else(|| format!(".granary/{}", raw.name)),
    );
    Ok(Pipeline {
        file: path.to_path_buf(),
        name: raw.name,
        description: raw.description,
        state_dir,
        source: (sid.clone(), source),
        extractor: (eid.clone(), extractor),
        sql,
        combine,
        sinks,
        engine,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_parses_toml_values_and_falls_back_to_strings() {
        let mut doc: toml::Table = toml::from_str("[a]\nb = 1\n").unwrap();
        apply_set(&mut doc, "a.b=2").unwrap();
        apply_set(&mut doc, "a.c=[\"x\"]").unwrap();
        apply_set(&mut doc, "a.d=plain text").unwrap();
        assert_eq!(doc["a"]["b"].as_integer(), Some(2));
        assert_eq!(doc["a"]["c"].as_array().map(Vec::len), Some(1));
        assert_eq!(doc["a"]["d"].as_str(), Some("plain text"));
    }

    #[test]
    fn locations_are_one_based() {
        let l = Location::at("f.toml", "a\nbc\n", 3);
        assert_eq!((l.line, l.col), (2, 2));
    }
}
