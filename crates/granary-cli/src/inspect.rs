//! `granary inspect`: a concise print of one granule's manifest.

use std::process::ExitCode;

use anyhow::Result;
use granary_core::{ArrayData, GranuleManifest};
use granary_io::StoreRegistry;

use granary_extract::MetadataRoute;

use crate::extract::{ExtractArgs, extractor};

#[derive(clap::Args)]
pub struct InspectArgs {
    /// A local file or URL.
    input: String,
    /// Where metadata comes from (see `granary scan --help`).
    #[arg(long, value_enum, default_value_t = MetadataRoute::Auto)]
    metadata: MetadataRoute,
    #[command(flatten)]
    trust: ExtractArgs,
    /// Print the full manifest as JSON instead of the summary.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: InspectArgs) -> Result<ExitCode> {
    let url = StoreRegistry::normalize(&args.input)?;
    let ex = extractor(args.metadata, Some(1), &args.trust);
    let stats = ex.stats().clone();
    let m = ex.extract(&url).await?;
    let text = if args.json {
        serde_json::to_string_pretty(&m)? + "\n"
    } else {
        let s = stats.snapshot();
        format!(
            "{}io: {} requests, {} bytes, {} round trips\n",
            summary(&m),
            s.requests,
            s.bytes,
            s.round_trips
        )
    };
    // A closed pipe (`granary inspect f | head`) is not an error worth a panic.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}

fn summary(m: &GranuleManifest) -> String {
    let mut out = format!("{} ({} bytes)\n", m.url, m.size.unwrap_or(0));
    for g in m.root.walk() {
        let name = if g.path.is_empty() { "/" } else { &g.path };
        out.push_str(&format!("group {name}: {} attributes\n", g.attrs.len()));
        for d in &g.dims {
            out.push_str(&format!(
                "  dim {} = {}{}\n",
                d.name,
                d.size,
                if d.unlimited { " (unlimited)" } else { "" }
            ));
        }
        for a in &g.arrays {
            let codecs: Vec<String> = a.codecs.iter().map(|c| c.label()).collect();
            let data = match &a.data {
                ArrayData::Chunks(c) => format!("{} chunks, {} bytes", c.len(), a.stored_bytes()),
                ArrayData::Inline(b) => format!("inline {} bytes", b.len()),
                ArrayData::Strings(s) => format!("{} strings", s.len()),
                ArrayData::Unread => "chunk index not read".to_string(),
            };
            out.push_str(&format!(
                "  {} {}({}) {:?} chunks {:?} {} [{}] fill={} {}\n",
                a.dtype.typestr().unwrap_or_else(|| a.dtype.name()),
                a.name,
                a.dims.join(", "),
                a.shape,
                a.chunk_shape,
                a.layout.as_str(),
                codecs.join(","),
                a.fill_value
                    .as_ref()
                    .map_or("none".into(), |f| f.to_json().to_string()),
                data
            ));
        }
    }
    out
}
