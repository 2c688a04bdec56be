//! Which storage the local Momento's durability is built on, measured: its own journal, fjall
//! and redb, with the same group commit. See `docs/PERFORMANCE.md` ("Storage").
//!
//! `cargo bench -p local-momento --bench storage --features storage-bench [-- --quick]`

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (per_writer, records, rounds) = if quick {
        (100, 100_000, 1)
    } else {
        (500, 1_000_000, 3)
    };
    let root = tempfile::tempdir().expect("a temporary directory");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let figures = runtime.block_on(local_momento::storage_bench::run(
        root.path(),
        per_writer,
        records,
        rounds,
    ));
    println!(
        "{:<22} {:>16} {:>10} {:>14} {:>12} {:>10}",
        "storage", "durable writes/s", "syncs", "bytes on disk", "reload ms", "records"
    );
    for f in figures {
        println!(
            "{:<22} {:>16.0} {:>10} {:>14} {:>12} {:>10}",
            f.name,
            f.durable_writes_per_second,
            f.commits,
            f.bytes_on_disk,
            f.reload.as_millis(),
            f.records
        );
    }
}
