//! The HTML report in a real browser: `canopy plan` on the smoke workload and on a small
//! onboarding-shaped workload, its report loaded in headless Chromium, which must render it
//! without console errors, with data in every plot (the latency distributions and the hourly
//! series among them) and with the workload's waves and reorganisations marked on every plot
//! over days. The checks are proven on planted pages (a console error, an empty plot, a
//! missing or misplaced annotation) so that a broken checker cannot pass a broken report.
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

/// The x-axis label of every plot over the days of a run.
const DAY_AXIS: &str = "day (since the start of the run)";

/// The plots over days that lack one of the `expected` annotations (`wave` or `reorg`, and
/// the day as written in `data-x`), or that have none of them at all.
fn missing_annotations(dom: &str, expected: &[(&str, &str)]) -> Vec<String> {
    let mut p = Vec::new();
    let over_days: Vec<&str> = plots(dom)
        .into_iter()
        .filter(|s| s.contains(DAY_AXIS))
        .collect();
    if over_days.is_empty() {
        p.push("no plot over days".into());
    }
    for (i, svg) in over_days.iter().enumerate() {
        for (mark, day) in expected {
            let line = format!("class=\"annotation {mark}\" data-x=\"{day}\"");
            if svg.matches(&line).count() != 1 {
                p.push(format!("plot {i} over days: no {mark} at day {day}"));
            }
        }
    }
    p
}

/// The titles of the plots with a data line, as the browser shows them.
fn titles_with_data(dom: &str) -> Vec<String> {
    plots(dom)
        .into_iter()
        .filter(|s| longest_line(s) >= 2)
        .filter_map(|s| {
            let t = s.find("font-weight=\"bold\">")? + "font-weight=\"bold\">".len();
            Some(s[t..t + s[t..].find('<')?].to_string())
        })
        .collect()
}

/// The single HTML report `canopy plan` wrote into `dir`.
fn html_in(dir: &Path) -> PathBuf {
    let html: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    assert_eq!(html.len(), 1, "one HTML report in {}", dir.display());
    html.into_iter().next().unwrap()
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
    let html = html_in(&dir);
    let source = std::fs::read_to_string(&html).unwrap();

    let r = render(&browser, &html, &dir.join("profile"));
    assert_eq!(problems(&r), Vec::<String>::new());
    // The browser kept every plot the file holds (none dropped as malformed markup).
    assert_eq!(plots(&r.dom).len(), source.matches("<svg").count());
    // The latency distributions, the days and the hours, each with a data line.
    let titles = titles_with_data(&r.dom);
    for title in [
        "Commit creation latency by commit kind: percentile distribution",
        "Commit processing latency per receiver by commit kind: percentile distribution",
        "Commit creation latency (wall-clock), by day",
        "Commit processing latency per receiver (wall-clock), by day",
        "Commits per hour",
        "Commit bytes fanned out by the DS per hour",
        "Blank parent nodes (fraction of parents with members on both sides)",
        "HPKE seals per commit (buckets of consecutive commits)",
        "Commit size (buckets of consecutive commits)",
    ] {
        assert!(
            titles.iter().any(|t| t == title),
            "{title} not in {titles:?}"
        );
    }
    // Every plot says whether it shows exact or measured figures, and the banner says which
    // are which.
    for svg in plots(&r.dom) {
        assert!(
            ["exact", "profile-based", "measured"]
                .iter()
                .any(|f| svg.contains(&format!("data-figures=\"{f}\""))),
            "{svg}"
        );
    }
    assert!(r.dom.contains("id=\"figures\""));
    // The smoke workload's wave (day 1) and reorganisation (day 2) are on every day plot.
    assert_eq!(
        missing_annotations(&r.dom, &[("wave", "1"), ("reorg", "2")]),
        Vec::<String>::new()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// An onboarding-shaped workload at a small size (an admin commits every change; two waves,
/// one close behind the other, and a reorganisation): every plot over days marks all three,
/// and the page renders cleanly.
#[test]
fn the_onboarding_report_marks_its_waves_and_reorganisation() {
    let Some(browser) = browser_or_skip("the_onboarding_report_marks_its_waves") else {
        return;
    };
    let dir = tmp("onboarding");
    let workload = dir.join("onboarding-small.toml");
    std::fs::write(
        &workload,
        "name = \"onboarding-small\"\nseed = 1\nmembers = 40\ndays = 4\n\
         joins_per_day = 2\nleaves_per_day = 2\nupdate_interval_days = 2\n\
         commit_policy = \"every_change\"\ncommitter = \"admin\"\nadmin = 0\n\
         waves = [{ day = 1, persons = 6 }, { day = 1.25, persons = 3 }]\n\
         reorgs = [{ day = 3, persons = 8 }]\n",
    )
    .unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args(["plan", "--receivers", "3", "--joiners", "4", "--quiet"])
        .arg("--workload")
        .arg(&workload)
        .arg("--out")
        .arg(dir.join("out"))
        .status()
        .unwrap();
    assert!(status.success());
    let html = html_in(&dir.join("out"));
    let r = render(&browser, &html, &dir.join("profile"));
    assert_eq!(problems(&r), Vec::<String>::new());
    let expected = [("wave", "1"), ("wave", "1.25"), ("reorg", "3")];
    assert_eq!(missing_annotations(&r.dom, &expected), Vec::<String>::new());
    // Eight plots over days: latency by day (2), per hour (2), the delivery service's
    // traffic per hour, blank fraction, seals, bytes (no backlog plot: nobody is offline).
    let over_days = plots(&r.dom)
        .into_iter()
        .filter(|s| s.contains(DAY_AXIS))
        .count();
    assert_eq!(over_days, 8);
    // The labels: persons joining and leaving, and the legend naming both marks.
    for text in [">+6</text>", ">+3</text>", ">−8</text>"] {
        assert_eq!(r.dom.matches(text).count(), 8, "{text}");
    }
    assert!(r.dom.contains(">onboarding wave</text>") && r.dom.contains(">reorganisation</text>"));
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
    // The annotation check: a plot over days without the reorganisation, or with the wave on
    // another day, is caught; one with both passes; a page without a plot over days too.
    let day_plot = |marks: &str| {
        format!(
            "<svg><text font-weight=\"bold\">t</text><text>{DAY_AXIS}</text>{marks}\
             <path d=\"M0,0L1,1\"/></svg>"
        )
    };
    let wave = "<line class=\"annotation wave\" data-x=\"1\"/>";
    let reorg = "<line class=\"annotation reorg\" data-x=\"2\"/>";
    let expected = [("wave", "1"), ("reorg", "2")];
    let cases = [
        ("no-reorg.html", day_plot(wave), Some("no reorg at day 2")),
        (
            "wave-elsewhere.html",
            day_plot(&format!(
                "{reorg}<line class=\"annotation wave\" data-x=\"3\"/>"
            )),
            Some("no wave at day 1"),
        ),
        (
            "no-day-plot.html",
            good.to_owned(),
            Some("no plot over days"),
        ),
        ("annotated.html", day_plot(&format!("{wave}{reorg}")), None),
    ];
    for (name, body, expected_problem) in cases {
        let path = dir.join(name);
        std::fs::write(&path, format!("<html><body>{body}</body></html>")).unwrap();
        let dom = render(&browser, &path, &dir.join("profile")).dom;
        let found = missing_annotations(&dom, &expected);
        match expected_problem {
            Some(e) => assert!(found.iter().any(|p| p.contains(e)), "{name}: {found:?}"),
            None => {
                assert_eq!(found, Vec::<String>::new(), "{name}");
                assert_eq!(titles_with_data(&dom), ["t"]);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
