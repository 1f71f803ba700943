//! Hostile and malformed DMR++ documents: typed errors or correct parses, never a panic, never
//! an expansion of custom entities.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use granary_dmrpp::{DmrppError, DmrppOptions, parse};
use granary_test_utils::Rng;

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/corpus/dmrpp")
        .join(rel)
}

fn opts() -> DmrppOptions {
    DmrppOptions {
        dmrpp_url: "file:///t/g.nc.dmrpp".into(),
        ..Default::default()
    }
}

fn swot_sidecar() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/swot");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dmrpp"))
        .collect();
    files.sort();
    std::fs::read(&files[0]).unwrap()
}

#[test]
fn truncated_documents_are_errors() {
    let full = swot_sidecar();
    for len in [0, 10, 100, 1000, full.len() / 2, full.len() - 20] {
        match parse(&full[..len], &opts()) {
            Err(DmrppError::Xml { .. } | DmrppError::Invalid { .. }) => {}
            Err(e) => panic!("len {len}: unexpected error {e}"),
            Ok(_) => panic!("a document truncated to {len} bytes parsed"),
        }
    }
}

#[test]
fn undeclared_prefix_parses() {
    let (m, _) = parse(
        &std::fs::read(corpus(
            "bes_dmrpp_module/data/dmrpp/h4mapper_testsds_splice.dmrpp",
        ))
        .unwrap(),
        &opts(),
    )
    .unwrap();
    assert!(m.arrays().count() > 0);
    assert!(
        m.arrays().any(|a| !a.chunks().is_empty()),
        "dmrpp:chunk elements found without the namespace"
    );
}

#[test]
fn https_namespace_variant_parses() {
    let (m, _) = parse(
        &std::fs::read(corpus("bes_dmrpp_module/data/fill_value/FValue.h5.dmrpp")).unwrap(),
        &opts(),
    )
    .unwrap();
    assert!(m.arrays().any(|a| !a.chunks().is_empty()));
}

#[test]
fn text_before_the_declaration_is_a_typed_outcome() {
    let r = parse(
        &std::fs::read(corpus(
            "bes_dmrpp_module/data/h4_dmrpp/SDS_simple.hdf.dmrpp",
        ))
        .unwrap(),
        &opts(),
    );
    match r {
        Ok((m, _)) => assert!(m.arrays().count() > 0),
        Err(e) => assert!(
            matches!(e, DmrppError::Xml { .. } | DmrppError::Invalid { .. }),
            "{e}"
        ),
    }
}

#[test]
fn raw_less_than_in_text_is_malformed() {
    let r = parse(
        &std::fs::read(corpus(
            "bes_dmrpp_module/data/dmrpp/nc4_group_atomic_fonc.nc4.dmrpp",
        ))
        .unwrap(),
        &opts(),
    );
    assert!(matches!(r, Err(DmrppError::Xml { .. })), "{r:?}");
}

#[test]
fn custom_entities_are_never_expanded() {
    // "Billion laughs": ten levels of tenfold entity expansion.
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE Dataset [\n<!ENTITY e0 \"lol\">\n");
    for i in 1..10 {
        doc.push_str(&format!(
            "<!ENTITY e{i} \"{}\">\n",
            format!("&e{};", i - 1).repeat(10)
        ));
    }
    doc.push_str("]>\n<Dataset name=\"x\"><Attribute name=\"a\" type=\"String\"><Value>&e9;</Value></Attribute></Dataset>");
    let err = parse(doc.as_bytes(), &opts()).unwrap_err();
    assert!(err.to_string().contains("undefined entity"), "{err}");
}

#[test]
fn predefined_entities_and_character_references_are_decoded() {
    let doc = r#"<Dataset name="x" dmrpp:href="a&amp;b.nc"><Attribute name="t" type="String"><Value>a &lt;b&gt; &#8217; &#x41;</Value></Attribute></Dataset>"#;
    let (m, _) = parse(doc.as_bytes(), &opts()).unwrap();
    assert_eq!(m.root.attrs[0].value.as_str(), Some("a <b> \u{2019} A"));
    assert_eq!(
        m.url, "file:///t/g.nc",
        "relative href without a catalog root: next to the sidecar"
    );
}

#[test]
fn huge_attribute_counts_parse() {
    let mut doc = String::from("<Dataset name=\"x\">");
    for i in 0..100_000 {
        doc.push_str(&format!(
            "<Attribute name=\"a{i}\" type=\"Int32\"><Value>{i}</Value></Attribute>"
        ));
    }
    doc.push_str("</Dataset>");
    let (m, _) = parse(doc.as_bytes(), &opts()).unwrap();
    assert_eq!(m.root.attrs.len(), 100_000);
}

#[test]
fn deeply_nested_containers_are_bounded() {
    let doc = format!(
        "<Dataset name=\"x\">{}</Dataset>",
        "<Attribute name=\"c\" type=\"Container\">".repeat(1000)
    );
    assert!(parse(doc.as_bytes(), &opts()).is_err());
}

#[test]
fn deeply_nested_groups_are_an_error_not_a_stack_overflow() {
    // 5,000 nested groups (120 kB) once aborted the process; 200,000 exhausted memory.
    for n in [5_000, 200_000] {
        let doc = format!(
            "<Dataset name=\"x\">{}{}</Dataset>",
            "<Group name=\"g\">".repeat(n),
            "</Group>".repeat(n)
        );
        let e = parse(doc.as_bytes(), &opts()).unwrap_err();
        assert!(e.to_string().contains("nested more than"), "{e}");
    }
    // Ordinary nesting still parses.
    let doc = format!(
        "<Dataset name=\"x\">{}{}</Dataset>",
        "<Group name=\"g\">".repeat(10),
        "</Group>".repeat(10)
    );
    let (m, _) = parse(doc.as_bytes(), &opts()).unwrap();
    assert_eq!(m.root.walk().len(), 11);
}

#[test]
fn structures_are_rejected_clearly_or_skipped_with_a_report() {
    let path = corpus("bes_dmrpp_module/data/dmrpp/compound_simple.h5.dmrpp");
    let err = parse(&std::fs::read(&path).unwrap(), &opts()).unwrap_err();
    assert!(
        matches!(err, DmrppError::Unsupported { .. }) && err.to_string().contains("DSC"),
        "{err}"
    );
    let mut o = opts();
    o.skip_unsupported = true;
    let (_, report) = parse(&std::fs::read(&path).unwrap(), &o).unwrap();
    assert_eq!(report.skipped.len(), 1);
}

#[test]
fn random_corruption_never_panics() {
    let input = swot_sidecar();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..500 {
        let mut b = input.clone();
        for _ in 0..1 + rng.next_u64() % 6 {
            let i = (rng.next_u64() % b.len() as u64) as usize;
            b[i] = b"<>&\"=/ 0x9:;"[(rng.next_u64() % 12) as usize];
        }
        let r = std::panic::catch_unwind(|| parse(&b, &opts()));
        assert!(r.is_ok(), "parser panicked");
    }
}
