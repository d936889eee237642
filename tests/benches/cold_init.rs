//! Cold start and memory of the scorer as Lambda runs it: the release binary is spawned
//! against a small stand-in for the Lambda Runtime API (and moto for AWS), and timed from
//! process spawn to its first `GET /invocation/next` (model loaded, clients built). Then
//! it scores a 10,000-record Kinesis batch; its peak RSS is read from /proc.
//!
//! `cargo build --release -p scorer -p alerts -p producer && cargo bench -p vigil-tests --bench cold_init`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil_tests::{Aws, BUS, LAKE, Moto, QUARANTINE, TABLE, events, workspace};

const SPAWNS: usize = 10;

/// What the runtime API saw.
enum Seen {
    Next(Instant),
    Response(String),
}

/// Serves the Runtime API on `listener`: each `next` waits for an event from `events`.
fn runtime_api(listener: TcpListener, events: Arc<Mutex<Receiver<String>>>, seen: Sender<Seen>) {
    for stream in listener.incoming().flatten() {
        let (events, seen) = (events.clone(), seen.clone());
        std::thread::spawn(move || serve(stream, &events, &seen));
    }
}

fn serve(stream: TcpStream, events: &Mutex<Receiver<String>>, seen: &Sender<Seen>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        if line.starts_with("GET /2018-06-01/runtime/invocation/next") {
            let _ = seen.send(Seen::Next(Instant::now()));
            let Some(event) = wait_for_event(events, &out) else { return };
            let deadline =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
                    + 900_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-1\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:vigil-scorer\r\n\
                 Content-Length: {}\r\n\r\n",
                event.len()
            );
            out.write_all(head.as_bytes()).and_then(|_| out.write_all(event.as_bytes())).unwrap();
        } else {
            let _ = seen.send(Seen::Response(String::from_utf8_lossy(&body).into_owned()));
            out.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        }
    }
}

/// The next event, unless the caller hung up first (a killed process must not swallow
/// the event meant for the next one).
fn wait_for_event(events: &Mutex<Receiver<String>>, peer: &TcpStream) -> Option<String> {
    loop {
        match events.lock().unwrap().recv_timeout(Duration::from_millis(20)) {
            Ok(event) => return Some(event),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        peer.set_nonblocking(true).ok()?;
        let closed = matches!(peer.peek(&mut [0]), Ok(0));
        peer.set_nonblocking(false).ok()?;
        if closed {
            return None;
        }
    }
}

fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

fn stripped_size(binary: &Path) -> u64 {
    let copy =
        std::env::temp_dir().join(format!("vigil-strip-{}", binary.file_name().unwrap().to_string_lossy()));
    std::fs::copy(binary, &copy).unwrap();
    let _ = Command::new("strip").arg(&copy).status();
    std::fs::metadata(&copy).unwrap().len()
}

fn main() {
    let release = workspace().join("target/release");
    let scorer = release.join("scorer");
    assert!(scorer.exists(), "build first: cargo build --release -p scorer -p alerts -p producer");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let moto = Moto::start();
    runtime.block_on(async {
        let aws = Aws::new(&moto).await;
        aws.create_table().await;
        aws.create_buckets().await;
        aws.alert_bus().await;
    });

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = listener.local_addr().unwrap();
    let (event_tx, event_rx) = channel::<String>();
    let (seen_tx, seen_rx) = channel();
    let event_rx = Arc::new(Mutex::new(event_rx));
    std::thread::spawn(move || runtime_api(listener, event_rx, seen_tx));

    let spawn = || {
        Command::new(&scorer)
            .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "vigil-scorer")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("VIGIL_TABLE", TABLE)
            .env("VIGIL_LAKE_BUCKET", LAKE)
            .env("VIGIL_QUARANTINE_BUCKET", QUARANTINE)
            .env("VIGIL_EVENT_BUS", BUS)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let next = |since: Instant| loop {
        match seen_rx.recv_timeout(Duration::from_secs(60)).expect("the scorer asked for work") {
            Seen::Next(at) => return at - since,
            Seen::Response(_) => {}
        }
    };

    let mut inits = Vec::new();
    for _ in 0..SPAWNS {
        let started = Instant::now();
        let mut child = spawn();
        inits.push(next(started));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    inits.sort();
    println!(
        "cold init (spawn → first next, model loaded), {SPAWNS} spawns: median {:?}, max {:?}",
        inits[SPAWNS / 2],
        inits[SPAWNS - 1]
    );

    let mut child = spawn();
    next(Instant::now());
    std::thread::sleep(Duration::from_millis(200)); // the killed processes' connections are noticed
    let idle = peak_rss_kb(child.id());
    let payloads = events::stream(10_000, 2_000, 3_000, 100);
    let started = Instant::now();
    event_tx.send(events::kinesis(&payloads).to_string()).unwrap();
    let response = loop {
        match seen_rx.recv_timeout(Duration::from_secs(600)).expect("a response") {
            Seen::Response(body) => break body,
            Seen::Next(_) => {}
        }
    };
    let wall = started.elapsed();
    // Wait for the next `next`, so the peak includes everything the batch allocated.
    next(Instant::now());
    let rss = peak_rss_kb(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    println!(
        "10k-record batch against moto: {wall:?}, response {response}, peak RSS {} MiB (after init: {} MiB)",
        rss / 1024,
        idle / 1024
    );

    for name in ["scorer", "alerts", "producer"] {
        let path = release.join(name);
        if path.exists() {
            println!("{name}: {:.1} MiB stripped", stripped_size(&path) as f64 / (1024.0 * 1024.0));
        }
    }
}
