//! The expansion case of `cargo xtask bench` (`--only expansion` runs it alone): grant expansion
//! on a generated organization, no network. The organization and what is printed are described
//! in `crates/c1-sync/examples/expand_bench.rs`; this runs that example (release build) at
//! scales 0.5 and 1, the two taking turns, each run under `xtask measure` for its peak RSS, and
//! writes `bench/expansion.json`.
//!
//! Targets (2-core machine): at least 300 000 expanded grants written per second of expansion at
//! scale 1, peak RSS under 256 MiB, and the scale-1 expansion taking at most 2.2 times the
//! scale-0.5 one (linear, not quadratic).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::bench::{MEASURE_COMMAND, Target, calibrate, median, parse_measurement, write_results};
use crate::util::workspace_root;

const TARGET_GRANTS_PER_S: f64 = 300_000.0;
const TARGET_RSS_MIB: f64 = 256.0;
const TARGET_SCALING: f64 = 2.2;
const SCALES: [f64; 2] = [0.5, 1.0];

#[derive(Serialize)]
struct Run {
    calibration_ms: f64,
    expansion_ms: f64,
    grants_out_per_s: f64,
    finish_ms: f64,
    wall_ms: f64,
    peak_rss_mib: f64,
}

#[derive(Serialize)]
struct ScaleResult {
    scale: f64,
    grants_in: u64,
    grants_out: u64,
    created: u64,
    updated: u64,
    runs: Vec<Run>,
    calibration_ms: f64,
    median_expansion_ms: f64,
    grants_out_per_s: f64,
    peak_rss_mib: f64,
}

#[derive(Serialize)]
struct Results {
    scales: Vec<ScaleResult>,
    targets: Vec<Target>,
}

pub(crate) fn run(runs: usize) -> Result<()> {
    println!("==> grant expansion: cargo build --release -p c1-sync --example expand_bench");
    let status = crate::util::cargo()
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "c1-sync",
            "--example",
            "expand_bench",
        ])
        .status()
        .context("cannot build the expand_bench example")?;
    if !status.success() {
        bail!("building the expand_bench example failed");
    }
    let example = workspace_root().join("target/release/examples/expand_bench");
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let xtask = std::env::current_exe().context("cannot find the xtask binary")?;

    // The scales take turns (0.5, 1, 0.5, 1, ...): the machine's speed drifts, and the target
    // is a ratio of the two.
    let mut per_scale: Vec<(Vec<Run>, BTreeMap<&str, u64>)> = SCALES
        .iter()
        .map(|_| (Vec::new(), BTreeMap::new()))
        .collect();
    for i in 0..runs {
        for (s, scale) in SCALES.iter().enumerate() {
            let (run, counts) = run_once(&xtask, &example, work.path(), *scale, i)?;
            println!(
                "    scale {scale} run {}: expansion {:7.0} ms  {:8.0} grants/s  {:6.1} MiB  (calibration {:.1} ms)",
                i + 1,
                run.expansion_ms,
                run.grants_out_per_s,
                run.peak_rss_mib,
                run.calibration_ms
            );
            per_scale[s].0.push(run);
            per_scale[s].1 = counts;
        }
    }
    let mut scales = Vec::new();
    for (scale, (results, counts)) in SCALES.iter().zip(per_scale) {
        let median_expansion_ms = median(results.iter().map(|r| r.expansion_ms));
        let created = counts.get("created").copied().unwrap_or(0);
        scales.push(ScaleResult {
            scale: *scale,
            grants_in: counts.get("grants_in").copied().unwrap_or(0),
            grants_out: counts.get("grants_out").copied().unwrap_or(0),
            created,
            updated: counts.get("updated").copied().unwrap_or(0),
            calibration_ms: median(results.iter().map(|r| r.calibration_ms)),
            median_expansion_ms,
            grants_out_per_s: created as f64 / (median_expansion_ms / 1000.0).max(1e-3),
            peak_rss_mib: results.iter().map(|r| r.peak_rss_mib).fold(0.0, f64::max),
            runs: results,
        });
    }

    let targets = targets(&scales);
    println!();
    println!(
        "{:>6} {:>10} {:>11} {:>13} {:>12} {:>10} {:>12}",
        "scale", "grants in", "grants out", "expansion", "grants/s", "peak RSS", "calibration"
    );
    for s in &scales {
        println!(
            "{:>6} {:>10} {:>11} {:>10.0} ms {:>12.0} {:>6.1} MiB {:>9.1} ms",
            s.scale,
            s.grants_in,
            s.grants_out,
            s.median_expansion_ms,
            s.grants_out_per_s,
            s.peak_rss_mib,
            s.calibration_ms
        );
    }
    println!();
    for t in &targets {
        println!(
            "{}  {}: {:.3} (limit {})",
            if t.pass { "PASS" } else { "FAIL" },
            t.name,
            t.value,
            t.limit
        );
    }
    let results = Results { scales, targets };
    write_results(
        "expansion.json",
        &results,
        &results.targets,
        "expansion targets missed",
    )
}

/// One run of `expand_bench` at `scale` under `xtask measure`: the run and the counts it reported.
fn run_once(
    xtask: &Path,
    example: &Path,
    work: &Path,
    scale: f64,
    i: usize,
) -> Result<(Run, BTreeMap<&'static str, u64>)> {
    let calibration_ms = calibrate();
    let report = work.join(format!("report-{scale}-{i}.txt"));
    let output = work.join(format!("expand-{scale}-{i}.c1z"));
    let log = work.join("stderr.log");
    let measured = Command::new(xtask)
        .arg(MEASURE_COMMAND)
        .arg(example)
        .arg("--scale")
        .arg(scale.to_string())
        .arg("--report")
        .arg(&report)
        .arg(&output)
        .stdin(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(&log).context("cannot create the log file")?,
        ))
        .output()
        .context("cannot start xtask measure")?;
    let _ = std::fs::remove_file(&output);
    let text = String::from_utf8_lossy(&measured.stdout);
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let (status, wall_ns, peak_kib) = parse_measurement(&text)
        .with_context(|| format!("xtask measure printed {text:?}: {}", stderr.trim()))?;
    if status != 0 {
        bail!(
            "expand_bench failed (exit code {status}): {}",
            stderr.trim()
        );
    }
    let line = std::fs::read_to_string(&report)
        .with_context(|| format!("expand_bench wrote no {}", report.display()))?;
    let values: BTreeMap<String, f64> = line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect();
    let get = |k: &str| values.get(k).copied().unwrap_or(0.0);
    let counts = ["grants_in", "grants_out", "created", "updated"]
        .into_iter()
        .map(|key| (key, get(key) as u64))
        .collect();
    let run = Run {
        calibration_ms,
        expansion_ms: get("expansion_ms"),
        grants_out_per_s: get("grants_out_per_s"),
        finish_ms: get("finish_ms"),
        wall_ms: wall_ns as f64 / 1e6,
        peak_rss_mib: peak_kib as f64 / 1024.0,
    };
    Ok((run, counts))
}

fn targets(scales: &[ScaleResult]) -> Vec<Target> {
    let mut out = Vec::new();
    let (Some(small), Some(large)) = (scales.first(), scales.last()) else {
        return out;
    };
    out.push(Target {
        name: "expansion at scale 1: expanded grants written per second".into(),
        value: large.grants_out_per_s,
        limit: TARGET_GRANTS_PER_S,
        pass: large.grants_out_per_s >= TARGET_GRANTS_PER_S,
    });
    let rss = scales.iter().map(|s| s.peak_rss_mib).fold(0.0, f64::max);
    out.push(Target {
        name: "expansion: peak RSS (MiB)".into(),
        value: rss,
        limit: TARGET_RSS_MIB,
        pass: rss < TARGET_RSS_MIB,
    });
    let ratio = large.median_expansion_ms / small.median_expansion_ms.max(1e-3);
    out.push(Target {
        name: "expansion time, scale 1 / scale 0.5".into(),
        value: ratio,
        limit: TARGET_SCALING,
        pass: ratio <= TARGET_SCALING,
    });
    out
}
