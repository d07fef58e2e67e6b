//! The HTML report in a real browser: `canopy plan` on the smoke workload, its report loaded
//! in headless Chromium, which must render it without console errors and with data in every
//! plot. The checks are proven on planted pages (a console error, an empty plot) so that a
//! broken checker cannot pass a broken report.
//!
//! Chromium comes from the distribution (`chromium`; `scripts/test` installs it). Without it
//! the test fails, unless `CANOPY_SKIP_BROWSER=1` says the run chose to skip it, which it
//! then prints: never a silent pass.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The browser, from `CANOPY_CHROMIUM` or the usual names on PATH.
fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CANOPY_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn browser_or_skip(test: &str) -> Option<PathBuf> {
    match chromium() {
        Some(b) => Some(b),
        None if std::env::var("CANOPY_SKIP_BROWSER").as_deref() == Ok("1") => {
            eprintln!("SKIP {test}: no Chromium, and CANOPY_SKIP_BROWSER=1");
            None
        }
        None => panic!(
            "{test}: no Chromium on PATH (install Debian's `chromium`, set CANOPY_CHROMIUM, \
             or set CANOPY_SKIP_BROWSER=1 to skip this test explicitly)"
        ),
    }
}

/// What the browser made of a page: the DOM after loading, and the console messages.
struct Rendered {
    dom: String,
    console: Vec<String>,
}

/// Load `page` in headless Chromium (flags for a closed network and a root user, with a fresh
/// profile), dump the DOM after load, and collect what the page wrote to the console.
fn render(browser: &Path, page: &Path, profile: &Path) -> Rendered {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("start Chromium");
    assert!(out.status.success(), "Chromium failed on {url}: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    Rendered {
        dom: String::from_utf8(out.stdout).expect("UTF-8 DOM"),
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_owned)
            .collect(),
    }
}

/// Every `<svg>` of the DOM, as its source text.
fn plots(dom: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..]
            .find("</svg>")
            .map(|e| start + e + "</svg>".len())
            .expect("closed <svg>");
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

/// The number of points of the plot's longest data line (`<path d="M x,y L x,y …">`).
fn longest_line(svg: &str) -> usize {
    svg.split("<path d=\"")
        .skip(1)
        .map(|p| {
            let d = &p[..p.find('"').unwrap_or(p.len())];
            d.matches(['M', 'L']).count()
        })
        .max()
        .unwrap_or(0)
}

/// The report's problems as the browser shows it: console messages, no plot, a plot without
/// a line of at least two points.
fn problems(r: &Rendered) -> Vec<String> {
    let mut p: Vec<String> = r.console.iter().map(|c| format!("console: {c}")).collect();
    let svgs = plots(&r.dom);
    if svgs.is_empty() {
        p.push("no plot rendered".into());
    }
    for (i, svg) in svgs.iter().enumerate() {
        if longest_line(svg) < 2 {
            p.push(format!("plot {i} has no data line"));
        }
    }
    p
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("canopy-html-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_plan_report_renders_in_a_browser_with_data_in_every_plot() {
    let Some(browser) = browser_or_skip("the_plan_report_renders_in_a_browser") else {
        return;
    };
    let dir = tmp("report");
    let status = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args([
            "plan",
            "--workload",
            "smoke",
            "--receivers",
            "3",
            "--joiners",
            "4",
        ])
        .arg("--out")
        .arg(&dir)
        .arg("--quiet")
        .status()
        .unwrap();
    assert!(status.success());
    let html: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    assert_eq!(html.len(), 1, "one HTML report in {}", dir.display());
    let source = std::fs::read_to_string(&html[0]).unwrap();

    let r = render(&browser, &html[0], &dir.join("profile"));
    assert_eq!(problems(&r), Vec::<String>::new());
    // The browser kept every plot the file holds (none dropped as malformed markup).
    assert_eq!(plots(&r.dom).len(), source.matches("<svg").count());
    assert!(plots(&r.dom).len() >= 5, "{} plots", plots(&r.dom).len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A sweep's report adds the comparison, the SLO table and the cost-versus-members plots: they
/// render too, each plot with a data line.
#[test]
fn the_sweep_report_renders_with_its_cost_plots() {
    let Some(browser) = browser_or_skip("the_sweep_report_renders_with_its_cost_plots") else {
        return;
    };
    let dir = tmp("sweep");
    let sweep = dir.join("sizes.toml");
    std::fs::write(
        &sweep,
        "[[points]]\nworkload = \"smoke\"\nmembers = 40\n[[points]]\nworkload = \"smoke\"\n",
    )
    .unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args(["plan", "--receivers", "3", "--joiners", "4", "--quiet"])
        .args(["--slo", "commit_bytes_p99=1e12"])
        .arg("--sweep")
        .arg(&sweep)
        .arg("--out")
        .arg(dir.join("out"))
        .status()
        .unwrap();
    assert!(status.success());
    let html: Vec<PathBuf> = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    assert_eq!(html.len(), 1);
    let source = std::fs::read_to_string(&html[0]).unwrap();
    assert!(source.contains("vs members") && source.contains("id=\"slo\""));
    let r = render(&browser, &html[0], &dir.join("profile"));
    assert_eq!(problems(&r), Vec::<String>::new());
    assert_eq!(plots(&r.dom).len(), source.matches("<svg").count());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_browser_checks_catch_console_errors_and_empty_plots() {
    let Some(browser) = browser_or_skip("the_browser_checks_catch_console_errors") else {
        return;
    };
    let dir = tmp("planted");
    let good = "<svg><path d=\"M0,0L1,1\"/></svg>";
    let pages = [
        (
            "console.html",
            format!("<html><body>{good}<script>console.error('planted')</script></body></html>"),
            "console:",
        ),
        (
            "throws.html",
            format!("<html><body>{good}<script>notDefined()</script></body></html>"),
            "console:",
        ),
        (
            "empty-plot.html",
            format!("<html><body>{good}<svg><path d=\"M0,0\"/></svg></body></html>"),
            "plot 1 has no data line",
        ),
        (
            "no-plot.html",
            "<html><body><p>nothing</p></body></html>".to_owned(),
            "no plot rendered",
        ),
    ];
    for (name, page, expected) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, page).unwrap();
        let found = problems(&render(&browser, &path, &dir.join("profile")));
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{name}: expected a problem containing {expected:?}, got {found:?}"
        );
    }
    // And a clean page passes.
    let clean = dir.join("clean.html");
    std::fs::write(&clean, format!("<html><body>{good}</body></html>")).unwrap();
    assert_eq!(
        problems(&render(&browser, &clean, &dir.join("profile"))),
        Vec::<String>::new()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
