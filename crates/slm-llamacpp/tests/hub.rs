//! Models by name, against a local server that imitates the Hugging Face Hub (never the network):
//! downloads land in the Hub cache once, are checked (size, sha256) and load; a 404, a truncated
//! body and a wrong hash are typed errors that leave nothing behind in the cache.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use slm_core::{ChatModel, ChatRequest, GenerationOptions};
use slm_llamacpp::source::{DownloadEvent, HubConfig, HubFile, ModelSource};
use slm_llamacpp::{LlamaCppError, LlamaCppModel, LoadOptions, models};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// How the fake Hub serves one file.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// Correctly.
    None,
    /// Announces the whole file, sends half of it and closes the connection.
    Truncate,
    /// Announces an LFS sha256 (`X-Linked-Etag`) that is not the body's.
    WrongSha,
    /// A small git file: the ETag is a git hash, not a sha256.
    GitEtag,
    /// Sends half the body without a Content-Length and closes: the client cannot tell.
    ShortUnsized,
}

struct Served {
    bytes: Arc<Vec<u8>>,
    fault: Fault,
}

/// A Hub on 127.0.0.1: `/{repo}/resolve/{rev}/{file}` (with range requests, ETag and
/// X-Repo-Commit, as hf-hub needs) and `/api/models/{repo}/revision/{rev}` for listings.
struct FakeHub {
    url: String,
    /// Every request: `"{path} auth={Authorization header}"`.
    log: Arc<Mutex<Vec<String>>>,
}

impl FakeHub {
    fn start(files: Vec<(&str, &str, Arc<Vec<u8>>, Fault)>) -> FakeHub {
        let mut repos: HashMap<String, HashMap<String, Served>> = HashMap::new();
        for (repo, file, bytes, fault) in files {
            repos
                .entry(repo.to_string())
                .or_default()
                .insert(file.to_string(), Served { bytes, fault });
        }
        let repos = Arc::new(repos);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let server_log = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (repos, log) = (repos.clone(), server_log.clone());
                std::thread::spawn(move || serve(stream, &repos, &log));
            }
        });
        FakeHub { url, log }
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn config(&self, cache: &Path) -> HubConfig {
        HubConfig::new(&self.url, cache)
    }
}

fn serve(
    mut stream: TcpStream,
    repos: &HashMap<String, HashMap<String, Served>>,
    log: &Mutex<Vec<String>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let auth = headers.get("authorization").cloned().unwrap_or_default();
    log.lock().unwrap().push(format!("{path} auth={auth}"));

    let respond =
        |stream: &mut TcpStream, status: &str, extra: &[(String, String)], body: &[u8]| {
            let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
            for (k, v) in extra {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        };
    let not_found = |stream: &mut TcpStream| {
        respond(
            stream,
            "404 Not Found",
            &[],
            b"{\"error\":\"Entry not found\"}",
        )
    };

    if let Some(rest) = path.strip_prefix("/api/models/") {
        // /api/models/{owner}/{name}/revision/{rev}
        let parts: Vec<&str> = rest.splitn(4, '/').collect();
        let repo = parts[..2.min(parts.len())].join("/");
        match repos.get(&repo) {
            Some(files) if parts.get(2) == Some(&"revision") => {
                let mut names: Vec<&String> = files.keys().collect();
                names.sort();
                let siblings: Vec<String> = names
                    .iter()
                    .chain([&&"README.md".to_string()])
                    .map(|n| format!("{{\"rfilename\":{n:?}}}"))
                    .collect();
                let body = format!(
                    "{{\"id\":{repo:?},\"sha\":\"{COMMIT}\",\"siblings\":[{}]}}",
                    siblings.join(",")
                );
                respond(
                    &mut stream,
                    "200 OK",
                    &[("Content-Type".into(), "application/json".into())],
                    body.as_bytes(),
                );
            }
            _ => not_found(&mut stream),
        }
        return;
    }
    // /{owner}/{name}/resolve/{rev}/{file...}
    let parts: Vec<&str> = path.trim_start_matches('/').splitn(5, '/').collect();
    let served = match parts.as_slice() {
        [owner, name, "resolve", _rev, file] => repos
            .get(&format!("{owner}/{name}"))
            .and_then(|files| files.get(*file)),
        _ => None,
    };
    let Some(served) = served else {
        return not_found(&mut stream);
    };
    let total = served.bytes.len();
    let sha = sha256_hex(&served.bytes);
    let etag = match served.fault {
        Fault::WrongSha => sha256_hex(b"some other file"),
        Fault::GitEtag => "8f1e2d3c4b5a69788796a5b4c3d2e1f001234567".to_string(),
        _ => sha,
    };
    let mut extra = vec![
        ("X-Repo-Commit".to_string(), COMMIT.to_string()),
        ("ETag".to_string(), format!("\"{etag}\"")),
        ("Accept-Ranges".to_string(), "bytes".to_string()),
    ];
    if served.fault != Fault::GitEtag {
        extra.push(("X-Linked-Etag".to_string(), format!("\"{etag}\"")));
    }
    // `Range: bytes=START-` or `bytes=START-END`.
    let range = headers.get("range").and_then(|r| {
        let (start, end) = r.strip_prefix("bytes=")?.split_once('-')?;
        let start: usize = start.parse().ok()?;
        let end: usize = if end.is_empty() {
            total - 1
        } else {
            end.parse().ok()?
        };
        Some((start, end.min(total - 1)))
    });
    let (status, body) = match range {
        Some((start, end)) if start < total => {
            extra.push((
                "Content-Range".to_string(),
                format!("bytes {start}-{end}/{total}"),
            ));
            ("206 Partial Content", &served.bytes[start..=end])
        }
        _ => ("200 OK", &served.bytes[..]),
    };
    let short = matches!(served.fault, Fault::Truncate | Fault::ShortUnsized);
    if short && body.len() > 1 {
        let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
        for (k, v) in &extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if served.fault == Fault::Truncate {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&body[..body.len() / 2]);
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return;
    }
    respond(&mut stream, status, &extra, body);
}

fn sha256_hex(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, bytes).unwrap();
    models::sha256_file(&path).unwrap()
}

/// The tiny generated model's bytes.
fn gguf() -> Arc<Vec<u8>> {
    Arc::new(std::fs::read(common::tiny_f32()).unwrap())
}

/// Every file and link under `dir` (links are not followed), relative to it.
fn entries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                out.push(
                    entry
                        .path()
                        .strip_prefix(dir)
                        .unwrap()
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

/// What a failed download may leave in the cache: nothing but the `refs/` it never wrote.
fn assert_nothing_downloaded(cache: &Path) {
    let left: Vec<String> = entries(cache)
        .into_iter()
        .filter(|e| e.contains("blobs") || e.contains("snapshots"))
        .collect();
    assert!(left.is_empty(), "left in the cache: {left:?}");
}

fn resolve(text: &str, config: &HubConfig) -> (Result<PathBuf, LlamaCppError>, Vec<DownloadEvent>) {
    let source: ModelSource = text.parse().unwrap();
    let mut events = Vec::new();
    let result = source.resolve_with(config, &mut |e| events.push(e.clone()));
    (result, events)
}

/// The greedy answer and its token count.
async fn greedy_answer(path: &Path) -> (String, u32) {
    let model = LlamaCppModel::load(path, LoadOptions::default().with_context_length(256)).unwrap();
    let request = ChatRequest::builder()
        .user("Say something.")
        .options(GenerationOptions::deterministic().with_max_tokens(12))
        .build();
    let response = model.chat(request).await.unwrap();
    (response.message.content, response.usage.completion_tokens)
}

#[tokio::test]
async fn downloads_once_verifies_loads_and_chats() {
    let bytes = gguf();
    let hub = FakeHub::start(vec![(
        "acme/tiny-GGUF",
        "tiny-f32.gguf",
        bytes.clone(),
        Fault::None,
    )]);
    let cache = tempfile::tempdir().unwrap();
    let config = hub.config(cache.path()).with_token("hf_do_not_leak_me");

    let (path, events) = resolve("hf:acme/tiny-GGUF/tiny-f32.gguf", &config);
    let path = path.unwrap();
    assert!(path.starts_with(cache.path()), "{}", path.display());
    assert!(path.ends_with(format!("snapshots/{COMMIT}/tiny-f32.gguf")));
    assert_eq!(std::fs::read(&path).unwrap(), *bytes);
    let total = bytes.len() as u64;
    assert_eq!(
        events.first(),
        Some(&DownloadEvent::Started {
            file: "tiny-f32.gguf".into(),
            total_bytes: total
        })
    );
    assert!(events.contains(&DownloadEvent::Progress {
        file: "tiny-f32.gguf".into(),
        downloaded: total,
        total_bytes: total
    }));
    assert_eq!(
        events.last(),
        Some(&DownloadEvent::Done { path: path.clone() })
    );
    // The token goes to the server, as a bearer token, and nowhere else.
    let requests = hub.requests();
    assert!(
        !requests.is_empty()
            && requests
                .iter()
                .all(|r| r.ends_with("auth=Bearer hf_do_not_leak_me"))
    );
    assert!(!format!("{config:?}").contains("hf_do_not_leak_me"));

    // The downloaded model answers exactly as the original file does.
    let answer = greedy_answer(&path).await;
    assert!(answer.1 > 0, "{answer:?}");
    assert_eq!(answer, greedy_answer(&common::tiny_f32()).await);

    // A second resolve is a cache hit: the server sees nothing.
    let (again, events) = resolve("hf:acme/tiny-GGUF/tiny-f32.gguf", &config);
    assert_eq!(again.unwrap(), path);
    assert_eq!(events, [DownloadEvent::Cached { path: path.clone() }]);
    assert_eq!(hub.requests().len(), requests.len());

    // A pinned hash is checked on a cache hit too, still without the network.
    let sha = sha256_hex(&bytes);
    let (pinned, _) = resolve(
        &format!("hf:acme/tiny-GGUF/tiny-f32.gguf#sha256={sha}"),
        &config,
    );
    assert_eq!(pinned.unwrap(), path);
    let (wrong, _) = resolve(
        &format!("hf:acme/tiny-GGUF/tiny-f32.gguf#sha256={}", "0".repeat(64)),
        &config,
    );
    assert!(
        matches!(wrong, Err(LlamaCppError::ChecksumMismatch { .. })),
        "{wrong:?}"
    );
    assert_eq!(hub.requests().len(), requests.len());
}

#[test]
fn quantization_picks_the_one_matching_file() {
    let bytes = gguf();
    let files = ["Tiny-Q4_K_M.gguf", "Tiny-Q4_K_S.gguf", "Tiny-Q8_0.gguf"];
    let hub = FakeHub::start(
        files
            .iter()
            .map(|f| ("acme/tiny-GGUF", *f, bytes.clone(), Fault::None))
            .chain([("acme/one-GGUF", "only.gguf", bytes.clone(), Fault::None)])
            .collect(),
    );
    let cache = tempfile::tempdir().unwrap();
    let config = hub.config(cache.path());

    let (path, events) = resolve("hf:acme/tiny-GGUF:q4_k_m", &config);
    let path = path.unwrap();
    assert!(path.ends_with("Tiny-Q4_K_M.gguf"), "{}", path.display());
    assert_eq!(
        events[0],
        DownloadEvent::Listing {
            repo: "acme/tiny-GGUF".into()
        }
    );
    assert!(hub.requests()[0].starts_with("/api/models/acme/tiny-GGUF/revision/main "));

    // Cached now: one listing request, no download.
    let before = hub.requests().len();
    let (again, events) = resolve("hf:acme/tiny-GGUF:Q4_K_M", &config);
    assert_eq!(again.unwrap(), path);
    assert!(
        matches!(events.last(), Some(DownloadEvent::Cached { .. })),
        "{events:?}"
    );
    assert_eq!(hub.requests().len(), before + 1);
    assert!(hub.requests()[before].starts_with("/api/models/"));

    // Several matches, or none: typed, listing the candidates.
    match resolve("hf:acme/tiny-GGUF:Q4_K", &config).0 {
        Err(LlamaCppError::AmbiguousFile {
            candidates, quant, ..
        }) => {
            assert_eq!(quant, "Q4_K");
            assert_eq!(candidates, ["Tiny-Q4_K_M.gguf", "Tiny-Q4_K_S.gguf"]);
        }
        other => panic!("expected AmbiguousFile, got {other:?}"),
    }
    match resolve("hf:acme/tiny-GGUF:Q5_K_M", &config).0 {
        Err(e @ LlamaCppError::NoMatchingFile { .. }) => {
            let LlamaCppError::NoMatchingFile { available, .. } = &e else {
                unreachable!()
            };
            assert_eq!(available, &files); // README.md is not a candidate
            assert!(e.to_string().contains("Q5_K_M"), "{e}");
        }
        other => panic!("expected NoMatchingFile, got {other:?}"),
    }
    // `hf:owner/repo` takes the only GGUF file, and refuses to guess among several.
    let (only, _) = resolve("hf:acme/one-GGUF", &config);
    assert!(only.unwrap().ends_with("only.gguf"));
    assert!(matches!(
        resolve("hf:acme/tiny-GGUF", &config).0,
        Err(LlamaCppError::AmbiguousFile { .. })
    ));
    // A Hub that cannot be reached: the cached match will do.
    let down = HubConfig::new("http://127.0.0.1:9", cache.path());
    assert_eq!(resolve("hf:acme/tiny-GGUF:Q4_K_M", &down).0.unwrap(), path);
    // Offline, a cached match still resolves and anything else does not ask the server.
    let offline = config.clone().with_offline(true);
    let before = hub.requests().len();
    assert_eq!(
        resolve("hf:acme/tiny-GGUF:Q4_K_M", &offline).0.unwrap(),
        path
    );
    assert!(matches!(
        resolve("hf:acme/tiny-GGUF:Q8_0", &offline).0,
        Err(LlamaCppError::Download { .. })
    ));
    assert_eq!(hub.requests().len(), before);
}

#[test]
fn missing_repo_or_file_is_a_typed_404() {
    let hub = FakeHub::start(vec![("acme/tiny-GGUF", "tiny.gguf", gguf(), Fault::None)]);
    let cache = tempfile::tempdir().unwrap();
    let config = hub.config(cache.path()).with_token("hf_secret_404");
    for text in [
        "hf:acme/tiny-GGUF/nope.gguf",
        "hf:acme/nothing-here/tiny.gguf",
        "hf:acme/nothing-here:Q4_0",
    ] {
        let err = resolve(text, &config).0.unwrap_err();
        assert!(
            matches!(err, LlamaCppError::HubNotFound { status: 404, .. }),
            "{text}: {err}"
        );
        assert!(
            !err.to_string().contains("hf_secret_404")
                && !format!("{err:?}").contains("hf_secret_404")
        );
        assert!(matches!(
            slm_core::Error::from(err),
            slm_core::Error::ModelLoad(..)
        ));
    }
    assert_nothing_downloaded(cache.path());
}

#[test]
fn truncated_download_is_typed_and_leaves_nothing() {
    let bytes = gguf();
    // The client sees the connection close early (Content-Length), or cannot (no length) and
    // hf-hub keeps the short file: both are caught, against the size the Hub announced.
    for fault in [Fault::Truncate, Fault::ShortUnsized] {
        let hub = FakeHub::start(vec![("acme/tiny-GGUF", "tiny.gguf", bytes.clone(), fault)]);
        let cache = tempfile::tempdir().unwrap();
        let (result, _) = resolve("hf:acme/tiny-GGUF/tiny.gguf", &hub.config(cache.path()));
        match result {
            Err(LlamaCppError::TruncatedDownload {
                expected, received, ..
            }) => {
                assert_eq!(expected, bytes.len() as u64);
                assert!(received < expected, "{received} of {expected}");
            }
            other => panic!("expected TruncatedDownload, got {other:?}"),
        }
        assert_nothing_downloaded(cache.path());
    }
}

#[test]
fn wrong_sha256_is_typed_and_leaves_nothing() {
    let bytes = gguf();
    let hub = FakeHub::start(vec![
        (
            "acme/tiny-GGUF",
            "corrupt.gguf",
            bytes.clone(),
            Fault::WrongSha,
        ),
        ("acme/tiny-GGUF", "good.gguf", bytes.clone(), Fault::None),
        ("acme/tiny-GGUF", "git.gguf", bytes.clone(), Fault::GitEtag),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let config = hub.config(cache.path());
    let sha = sha256_hex(&bytes);

    // The body does not hash to the sha256 the Hub announced.
    match resolve("hf:acme/tiny-GGUF/corrupt.gguf", &config).0 {
        Err(LlamaCppError::ChecksumMismatch {
            expected, actual, ..
        }) => {
            assert_eq!(expected, sha256_hex(b"some other file"));
            assert_eq!(actual, sha);
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
    assert_nothing_downloaded(cache.path());

    // A pinned hash the Hub contradicts: refused before downloading.
    let before = hub.requests().len();
    let pinned = format!("hf:acme/tiny-GGUF/good.gguf#sha256={}", "ab".repeat(32));
    assert!(matches!(
        resolve(&pinned, &config).0,
        Err(LlamaCppError::ChecksumMismatch { .. })
    ));
    assert_eq!(
        hub.requests().len(),
        before + 1,
        "only the metadata request"
    );
    // A pinned hash on a file the Hub gives no sha256 for is checked on the bytes.
    let pinned = format!("hf:acme/tiny-GGUF/git.gguf#sha256={}", "ab".repeat(32));
    match resolve(&pinned, &config).0 {
        Err(LlamaCppError::ChecksumMismatch { actual, .. }) => assert_eq!(actual, sha),
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
    assert_nothing_downloaded(cache.path());
    // And the right pin downloads it.
    let (ok, _) = resolve(&format!("hf:acme/tiny-GGUF/git.gguf#sha256={sha}"), &config);
    assert_eq!(std::fs::read(ok.unwrap()).unwrap(), *bytes);
}

#[test]
fn known_names_resolve_from_the_model_cache() {
    let home = tempfile::tempdir().unwrap();
    let hub_cache = tempfile::tempdir().unwrap();
    let config =
        HubConfig::new("http://127.0.0.1:9", hub_cache.path()).with_model_home(home.path());
    let source: ModelSource = "SmolLM2-135M-Instruct".parse().unwrap();
    assert_eq!(source, ModelSource::Known(&models::SMOLLM2));
    assert_eq!(source.to_string(), "smollm2");

    let err = source.resolve_with(&config, &mut |_| {}).unwrap_err();
    assert!(matches!(err, LlamaCppError::ModelNotCached { .. }), "{err}");
    // `locate` checks the size; a sparse file of the right size stands in for the real one.
    let file = std::fs::File::create(home.path().join(models::SMOLLM2.file_name)).unwrap();
    file.set_len(models::SMOLLM2.size).unwrap();
    let path = source.resolve_with(&config, &mut |_| {}).unwrap();
    assert_eq!(path, home.path().join(models::SMOLLM2.file_name));
    // A name inside a path is a path.
    assert!(matches!("./smollm2".parse(), Ok(ModelSource::Path(_))));
    assert!(
        matches!("hf:o/r:Q4_0".parse(), Ok(ModelSource::Hub(h)) if h.file == HubFile::Quant("Q4_0".into()))
    );
}

#[tokio::test]
async fn resolve_async_runs_off_the_runtime() {
    let bytes = gguf();
    let hub = FakeHub::start(vec![(
        "acme/tiny-GGUF",
        "tiny.gguf",
        bytes.clone(),
        Fault::None,
    )]);
    let cache = tempfile::tempdir().unwrap();
    let source: ModelSource = "hf:acme/tiny-GGUF/tiny.gguf".parse().unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let path = source
        .resolve_async(hub.config(cache.path()), move |e| {
            sink.lock().unwrap().push(e.clone())
        })
        .await
        .unwrap();
    let mut file = std::fs::File::open(&path).unwrap();
    let mut read = Vec::new();
    file.read_to_end(&mut read).unwrap();
    assert_eq!(read, *bytes);
    assert!(matches!(
        events.lock().unwrap().last(),
        Some(DownloadEvent::Done { .. })
    ));
}
