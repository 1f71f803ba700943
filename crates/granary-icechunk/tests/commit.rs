//! The Icechunk sink on a local repository: a commit per change, none when nothing changed,
//! only the changed chunks set, concurrent writers refused with a conflict, and a location
//! holding something else left untouched.

use granary_core::ArrayPolicy;
use granary_icechunk::commit::commit_session;
use granary_icechunk::metadata::array_metadata;
use granary_icechunk::repo::{open_repository, writable_session};
use granary_icechunk::source::{Source, Target};
use granary_icechunk::sync::{ArrayWrite, sync};
use granary_icechunk::{CommitTarget, IcechunkError, RepoLocation, RepoStorage, commit_combined};
use granary_refs::ZarrArray;
use granary_refs::combine::{Combined, OutArray, OutGroup, OutRef};
use icechunk::format::ChunkIndices;

fn array(cells: u64) -> OutArray {
    OutArray {
        path: "ssh".into(),
        meta: ZarrArray {
            dims: vec!["cycle".into(), "n".into()],
            shape: vec![cells, 4],
            chunks: vec![1, 4],
            dtype: "\"<f4\"".into(),
            fill_value: "\"NaN\"".into(),
            filters: "[{\"id\":\"zlib\",\"level\":4}]".into(),
            attrs: vec![("units".into(), "\"m\"".into())],
            embedded: None,
            trim: 0,
            unwritten: None,
        },
        refs: (0..cells)
            .map(|i| OutRef {
                index: i,
                url: i as u32,
                offset: 100,
                length: 20,
            })
            .collect(),
        inline: Vec::new(),
    }
}

fn set(cells: u64) -> Combined {
    Combined {
        urls: (0..cells)
            .map(|i| format!("file:///data/g{i}.nc"))
            .collect(),
        groups: vec![OutGroup {
            path: String::new(),
            attrs: vec![("title".into(), "\"t\"".into())],
        }],
        arrays: vec![array(cells)],
        report: Default::default(),
    }
}

fn target(dir: &std::path::Path) -> CommitTarget {
    CommitTarget {
        location: RepoLocation::Local(dir.join("r.icechunk")),
        storage: RepoStorage::default(),
        branch: "main".into(),
        title: "test".into(),
        selection: "SELECT 1".into(),
        policy: ArrayPolicy::Skip,
    }
}

fn etags(n: u64, version: &str) -> Vec<Option<String>> {
    (0..n).map(|i| Some(format!("{version}-{i}"))).collect()
}

#[tokio::test]
async fn commits_only_what_changed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let t = target(dir.path());
    let first = commit_combined(&set(2), &etags(2, "a"), &t)
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert!(first.snapshot.is_some());
    assert_eq!(first.added.len(), 2);
    assert_eq!(first.stats.chunks_set, 2);
    // The same set again: no commit.
    let again = commit_combined(&set(2), &etags(2, "a"), &t)
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(again.snapshot, None);
    assert_eq!(again.stats.chunks_set, 0);
    // The tip's fingerprints say nothing changed: no chunk is read from it.
    assert_eq!(again.stats.chunks_read, 0);
    // One more granule, and granule 0 replaced (new ETag): two chunks set, array resized.
    let mut tags = etags(3, "a");
    tags[0] = Some("b-0".into());
    let grown = commit_combined(&set(3), &tags, &t)
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert!(grown.snapshot.is_some());
    assert_eq!(grown.added, vec!["file:///data/g2.nc".to_string()]);
    assert_eq!(grown.changed, vec!["file:///data/g0.nc".to_string()]);
    assert!(grown.removed.is_empty());
    assert_eq!(grown.stats.chunks_set, 2);
    assert_eq!(grown.stats.nodes_updated, 1);
    // Only the block whose fingerprint changed (granule 0's cell) is read from the tip.
    assert_eq!(grown.stats.chunks_read, 1);
    // Shrunk back to one granule: two chunks deleted, two granules removed.
    let shrunk = commit_combined(&set(1), &tags, &t)
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(shrunk.removed.len(), 2);
    assert_eq!(shrunk.stats.chunks_deleted, 2);
    assert!(shrunk.message.contains("2 removed"), "{}", shrunk.message);
}

#[tokio::test]
async fn a_concurrent_writer_gets_a_conflict_and_commits_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let t = target(dir.path());
    let c = set(2);
    commit_combined(&c, &etags(2, "a"), &t)
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    let repo = open_repository(&t.location, &t.storage, &c.urls, None)
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    let mut one = writable_session(&repo, &t.location, "main")
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    let mut two = writable_session(&repo, &t.location, "main")
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    let group = vec![(
        String::new(),
        b"{\"zarr_format\":3,\"node_type\":\"group\",\"attributes\":{\"w\":1}}".to_vec(),
    )];
    let other = vec![(
        String::new(),
        b"{\"zarr_format\":3,\"node_type\":\"group\",\"attributes\":{\"w\":2}}".to_vec(),
    )];
    sync(&mut one, "r", &group, Vec::new(), &Default::default())
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    sync(&mut two, "r", &other, Vec::new(), &Default::default())
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    commit_session(&mut one, "one", Default::default(), &t.location, "main")
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    let second = commit_session(&mut two, "two", Default::default(), &t.location, "main").await;
    assert!(
        matches!(second, Err(IcechunkError::Conflict { .. })),
        "{second:?}"
    );
    let history: Vec<String> = {
        use futures::TryStreamExt;
        let tip = repo
            .lookup_branch("main")
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        let anc = repo
            .ancestry(&icechunk::repository::VersionInfo::SnapshotId(tip))
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        anc.map_ok(|s| s.message.clone())
            .try_collect()
            .await
            .unwrap_or_else(|e| unreachable!("{e}"))
    };
    assert_eq!(history.first().map(String::as_str), Some("one"));
    assert!(!history.iter().any(|m| m == "two"));
    // "one" kept only the root group: the next run adds the array back.
    let back = commit_combined(&c, &etags(2, "a"), &t)
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!((back.stats.chunks_read, back.stats.chunks_set), (0, 2));
    // Another writer commits the same array and a new group attribute, without granary's
    // fingerprints: the next run must read every chunk of the tip to compare.
    let mut three = writable_session(&repo, &t.location, "main")
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    let targets: Vec<Target> = (0..2)
        .map(|i| {
            Target::new(&format!("file:///data/g{i}.nc"), Some(&format!("a-{i}")))
                .unwrap_or_else(|e| unreachable!("{e}"))
        })
        .collect();
    let same = ArrayWrite {
        path: "ssh".into(),
        meta: array_metadata(&array(2).meta).unwrap_or_else(|e| unreachable!("{e}")),
        chunks: Box::new(|| {
            Ok(targets
                .iter()
                .zip(0u32..)
                .map(|(target, i)| {
                    let source = Source::Range {
                        target,
                        offset: 100,
                        length: 20,
                    };
                    (ChunkIndices(vec![i, 0]), source.digest(), source)
                })
                .collect())
        }),
    };
    let stats = sync(&mut three, "r", &other, vec![same], &Default::default())
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!((stats.chunks_read, stats.chunks_set), (2, 0));
    commit_session(&mut three, "three", Default::default(), &t.location, "main")
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    let next = commit_combined(&c, &etags(2, "a"), &t)
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!((next.stats.chunks_read, next.stats.chunks_set), (2, 0));
    assert!(next.snapshot.is_some()); // the group attribute goes back
}

#[tokio::test]
async fn a_directory_that_is_not_a_repository_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let t = target(dir.path());
    let RepoLocation::Local(p) = &t.location else {
        unreachable!()
    };
    std::fs::create_dir_all(p).unwrap_or_else(|e| unreachable!("{e}"));
    std::fs::write(p.join("mine.txt"), "x").unwrap_or_else(|e| unreachable!("{e}"));
    let r = commit_combined(&set(1), &etags(1, "a"), &t).await;
    assert!(
        matches!(&r, Err(IcechunkError::Location { reason, .. }) if reason.contains("not an Icechunk repository")),
        "{r:?}"
    );
    let names: Vec<_> = std::fs::read_dir(p)
        .unwrap_or_else(|e| unreachable!("{e}"))
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("mine.txt")]);
}
