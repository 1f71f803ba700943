//! `granary plan`: the component graph, and each SQL transform's logical plan against the
//! inventory schemas (nothing is scanned).

use datafusion::prelude::SessionContext;
use granary_inventory::Inventory;
use granary_sql::session;

use crate::error::PipelineError;
use crate::load::Pipeline;

/// A text description of the pipeline: components in execution order with their settings, and
/// the optimised logical plan of every SQL transform.
pub async fn describe(p: &Pipeline) -> Result<String, PipelineError> {
    let mut out = String::new();
    let (sid, s) = &p.source;
    let (eid, e) = &p.extractor;
    out.push_str(&format!("pipeline {:?}: {}\n", p.name, p.description));
    out.push_str(&format!("state: {}\n\n", p.state_dir.display()));
    out.push_str(&format!(
        "[source] {sid} ({:?}): {}\n",
        s.kind,
        s.paths.join(", ")
    ));
    out.push_str(&format!(
        "  -> [extractor] {eid} ({:?}): concurrency {}, parts of {} granules or {} MiB\n",
        e.route,
        e.concurrency
            .map_or_else(|| "auto".to_string(), |n| n.to_string()),
        e.part_size,
        e.part_mib
    ));
    for (id, _) in &p.sql {
        out.push_str(&format!("  -> [transform] {id} (sql)\n"));
    }
    let (cid, c) = &p.combine;
    out.push_str(&format!(
        "  -> [transform] {cid} (combine): on_duplicate {:?}, attrs {:?}{}{}\n",
        c.on_duplicate,
        c.attrs,
        if c.identical.is_empty() {
            String::new()
        } else {
            format!(", identical {}", c.identical.join(","))
        },
        c.partition_by
            .as_ref()
            .map(|p| format!(", one output per {p}"))
            .unwrap_or_default()
    ));
    for (id, s) in &p.sinks {
        out.push_str(&format!(
            "  -> [sink] {id} ({:?}): {}{}\n",
            s.format,
            s.path.as_deref().unwrap_or("(--target)"),
            if s.overwrite { ", overwrite" } else { "" }
        ));
    }
    let inv_err = |component: &String| {
        let component = component.clone();
        move |source| PipelineError::Inventory {
            component,
            source: Box::new(source),
        }
    };
    let pattern = s.pattern().map_err(inv_err(sid))?;
    let inv = Inventory::build(&[], pattern.as_ref()).map_err(inv_err(eid))?;
    let ctx: SessionContext = session(&inv).map_err(|e| PipelineError::Sql {
        component: eid.clone(),
        source: Box::new(e),
    })?;
    for (id, q) in &p.sql {
        let err = |e: datafusion::error::DataFusionError| PipelineError::Sql {
            component: id.clone(),
            source: Box::new(e.into()),
        };
        let df = ctx.sql(q).await.map_err(err)?;
        let plan = df.clone().into_optimized_plan().map_err(err)?;
        out.push_str(&format!("\nplan of {id}:\n{}\n", plan.display_indent()));
        ctx.register_table(id.as_str(), df.into_view())
            .map_err(err)?;
    }
    Ok(out)
}
