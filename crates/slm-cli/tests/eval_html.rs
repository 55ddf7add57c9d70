//! `slm eval report … --html` on reports of real `slm eval run`s (recorded answers via the
//! `replay:` spec), checked in a real headless Chromium: the DOM it builds has the metric table
//! and the SVG charts with their bars, and its screenshot shows them.
//!
//! Needs Debian's `chromium` (`scripts/setup.sh --test` installs it): without it the test fails
//! under CI (`CI` set to anything but empty, `0` or `false`) and prints a loud SKIPPED line
//! otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use slm_eval::Report;

mod eval_support;
use eval_support::{answers, prepared, run, s, slm_eval, text};

/// `chromium` on PATH.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
}

/// Runs headless Chromium on `url` with `mode` (`--dump-dom`, `--screenshot=…`), in a fresh
/// profile, killed after two minutes.
fn headless(browser: &Path, mode: &str, url: &str) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", s(profile.path())))
        .arg("--window-size=1280,2400")
        .arg(mode)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let id = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    let watchdog = std::thread::spawn(move || {
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            if !Path::new(&format!("/proc/{id}")).exists() {
                return;
            }
        }
        let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
    });
    let out = child.wait_with_output().unwrap();
    let _ = watchdog.join();
    assert!(
        out.status.success(),
        "chromium {mode} failed ({}): {}",
        out.status,
        text(&out.stderr)
    );
    out
}

/// The decoded screenshot: (width, height, RGB pixels).
fn pixels(png_path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let mut decoder = png::Decoder::new(std::fs::File::open(png_path).unwrap());
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "a colour screenshot: {:?}", info.color_type);
    let rgb = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, rgb)
}

#[test]
fn the_html_report_renders_in_a_real_headless_chromium() {
    let Some(browser) = chromium() else {
        let ci = std::env::var("CI").unwrap_or_default();
        assert!(
            ci.is_empty() || ci == "0" || ci.eq_ignore_ascii_case("false"),
            "chromium is missing (scripts/setup.sh --test installs it)"
        );
        eprintln!(
            "\n*** SKIPPED the_html_report_renders_in_a_real_headless_chromium: chromium is not \
             installed (scripts/setup.sh --test installs it)\n"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = prepared(dir.path());
    let test = data_dir.join("structured/test.jsonl");
    let llm = dir.path().join("05_eval/llm.json");
    run(
        "structured",
        &test,
        &format!("replay:{}#llm", s(&test)),
        &llm,
    );
    // The SLM is run as a user would, from the project directory with relative paths: its
    // report names `02_dataset/…` and `05_eval/…`, found later from anywhere.
    let evil = "<script>document.title='pwned'</script>";
    answers(&test, &[1, 4, 6], evil, &dir.path().join("a.jsonl"));
    let done = Command::new(env!("CARGO_BIN_EXE_slm"))
        .current_dir(dir.path())
        .args(["eval", "run", "--track", "structured", "--no-progress"])
        .args(["--data", "02_dataset/structured/test.jsonl"])
        .args(["--model", "replay:a.jsonl#slm", "--out", "05_eval/slm.json"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(done.status.success(), "{}", text(&done.stderr));
    let slm = dir.path().join("05_eval/slm.json");
    let slm_report = Report::load(&slm).unwrap();
    assert!(slm_report.results_path.as_ref().unwrap().is_relative());

    let page = dir.path().join("report.html");
    let done = slm_eval(&["report", s(&llm), s(&slm), "--html", s(&page)]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let stderr = text(&done.stderr);
    assert!(!stderr.contains("note:"), "everything found: {stderr}");
    assert!(done.stdout.is_empty(), "--html alone prints no table");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "the answer's script is escaped");
    for outside in ["<link", "src=", "url(", "@import"] {
        assert!(!html.contains(outside), "self-contained, yet {outside:?}");
    }

    // The DOM Chromium builds from the file.
    let url = format!("file://{}", s(&page));
    let dom = text(&headless(&browser, "--dump-dom", &url).stdout);
    let metrics = slm_report.metrics.len();
    let table_start = dom
        .find("<table id=\"metrics\">")
        .expect("the metric table");
    let table = &dom[table_start..table_start + dom[table_start..].find("</table>").unwrap()];
    assert_eq!(table.matches("<tr class=\"metric\">").count(), metrics);
    assert!(table.contains("<td>exact_match</td>"), "{table}");
    // A bar chart per metric, the histograms (latency, tokens, and TTFT when measured), the
    // cost chart.
    let charts: Vec<&str> = dom.split("<svg").skip(1).collect();
    assert!(
        [metrics + 3, metrics + 4].contains(&charts.len()),
        "{} charts for {metrics} metrics: {dom}",
        charts.len()
    );
    for chart in &charts {
        let chart = &chart[..chart.find("</svg>").unwrap()];
        assert!(chart.matches("<rect").count() >= 2, "bars drawn: {chart}");
    }
    assert!(dom.contains("FINE_TUNE=1"), "the decision");
    assert!(
        dom.contains("&lt;script&gt;document.title"),
        "the answer shown as text"
    );
    assert!(!dom.contains("pwned</title>"), "and not run");

    // The screenshot: a real picture with the models' bars in their colours.
    let shot = dir.path().join("report.png");
    headless(&browser, &format!("--screenshot={}", s(&shot)), &url);
    let (width, height, rgb) = pixels(&shot);
    assert_eq!((width, height), (1280, 2400));
    let distinct: std::collections::BTreeSet<[u8; 3]> = rgb.iter().copied().collect();
    assert!(
        distinct.len() > 50,
        "not a flat picture: {} colours",
        distinct.len()
    );
    let near = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 8);
    for (name, colour) in [("llm", [0, 114, 178]), ("slm", [230, 159, 0])] {
        let count = rgb.iter().filter(|p| near(**p, colour)).count();
        assert!(count > 5_000, "{name}'s bars: {count} pixels of {colour:?}");
    }
}
