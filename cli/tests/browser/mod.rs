//! A report page opened in headless Chromium (Debian's, which `infra/setup.sh` installs):
//! it loads without a console message, every chart lays out at least 600×250 (they are
//! drawn at 720×300), nothing is wider than the window, and a screenshot is taken.

use std::path::{Path, PathBuf};
use std::process::Command;

const WIDTH: u32 = 1200;

/// What the page looked like once loaded, as the probe script measured it.
#[derive(Debug, serde::Deserialize)]
pub struct Layout {
    pub charts: usize,
    pub charts_at_size: usize,
    pub sections: usize,
    pub tables: usize,
    pub overflow: bool,
}

#[derive(Debug)]
pub struct Opened {
    pub layout: Option<Layout>,
    /// Every console message but the probe's: errors, warnings and logs alike.
    pub console: Vec<String>,
    pub screenshot: PathBuf,
}

/// Appended to a copy of the page (the page itself has no script): reports the layout
/// through the console, where Chromium's log shows it.
const PROBE: &str = r#"<script>addEventListener("load", () => {
  const charts = [...document.querySelectorAll("figure svg")].map(s => s.getBoundingClientRect());
  console.log("vigil-probe " + JSON.stringify({
    charts: charts.length,
    charts_at_size: charts.filter(r => r.width >= 600 && r.height >= 250).length,
    sections: document.querySelectorAll("section").length,
    tables: document.querySelectorAll("table").length,
    overflow: document.documentElement.scrollWidth > innerWidth,
  }));
});</script>"#;

pub fn open(page: &str, dir: &Path, name: &str) -> Opened {
    let probed = match page.rfind("</body>") {
        Some(at) => format!("{}{PROBE}{}", &page[..at], &page[at..]),
        None => format!("{page}{PROBE}"),
    };
    let file = dir.join(format!("{name}.html"));
    std::fs::write(&file, probed).unwrap();
    let screenshot = dir.join(format!("{name}.png"));
    let profile = tempfile::tempdir().unwrap();
    // The flags keep Chromium off the network this machine does not have.
    let out = Command::new("timeout")
        .args(["120", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"])
        .args(["--no-first-run", "--disable-background-networking", "--disable-component-update"])
        .args(["--disable-sync", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--window-size={WIDTH},1600"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("run chromium: infra/setup.sh installs Debian's package");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed on {name}: {log}");
    let (mut layout, mut console) = (None, Vec::new());
    for line in log.lines().filter(|l| l.contains(":CONSOLE")) {
        match line.split_once("\"vigil-probe ") {
            Some((_, rest)) => {
                let json = rest.split("\", source:").next().unwrap_or_default().replace("\\\"", "\"");
                layout = Some(serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}")));
            }
            None => console.push(line.to_owned()),
        }
    }
    Opened { layout, console, screenshot }
}

/// The PNG's width and height, from its header.
pub fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 24, "{} is a PNG", path.display());
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// A report page passes: no console message, every chart and section laid out.
pub fn check(page: &str, dir: &Path, name: &str) {
    let opened = open(page, dir, name);
    assert!(opened.console.is_empty(), "{name}: console messages {:?}", opened.console);
    let layout = opened.layout.unwrap_or_else(|| panic!("{name}: the probe did not report"));
    assert_eq!(layout.charts, page.matches("<svg").count(), "{name}: {layout:?}");
    assert_eq!(layout.charts_at_size, layout.charts, "{name}: a chart laid out smaller than drawn");
    assert!(layout.sections > 0 && layout.tables >= layout.sections, "{name}: {layout:?}");
    assert!(!layout.overflow, "{name}: wider than a {WIDTH}px window");
    assert_eq!(png_size(&opened.screenshot).0, WIDTH, "{name}: screenshot");
}
