//! CURVE certificates in the files pyzmq's `zmq.auth` (and czmq) read and write.
//!
//! A key pair is kept as two files: `NAME.key`, the public certificate, holds the
//! public key and may be handed to anyone; `NAME.key_secret`, the secret certificate,
//! holds both keys and is readable by its owner only. Both are text in ZPL (the ZeroMQ
//! property language, RFC 4): comment lines starting with `#`, then a `metadata`
//! section and a `curve` section, each property indented by four spaces:
//!
//! ```text
//! #   a comment
//! metadata
//!     name = "alice"
//! curve
//!     public-key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
//!     secret-key = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
//! ```
//!
//! [`save`] writes a pair, [`load`] reads one file, and [`load_public_keys`] reads the
//! public key of every `*.key` file of a directory, the allow list a CURVE server
//! takes ([`Auth::curve_keys_from_dir`](crate::Auth::curve_keys_from_dir)).
//!
//! ```no_run
//! use monocoque::certificate;
//! use monocoque::CurveKeyPair;
//!
//! let (public, secret) = certificate::save("certs/server", &CurveKeyPair::generate())?;
//! let server = certificate::load(&secret)?;
//! assert!(server.key_pair().is_some());
//! assert_eq!(certificate::load(&public)?.public_key(), server.public_key());
//! # Ok::<(), certificate::CertificateError>(())
//! ```
//!
//! Reading follows ZPL, as far as certificates use it: lines end in LF or CR LF; blank
//! lines and lines whose first non-blank character is `#` are comments; indentation is
//! four spaces a level (a tab counts as one level too, not mixed with spaces on a line); a property is `name = value`, the value
//! quoted with `"` or `'`, or bare up to a `#` that follows a blank (a comment), and a
//! name is letters, digits and `$-_@.&+/`. The `metadata` entries are kept
//! ([`Certificate::metadata`]); sections other than `metadata` and `curve` are
//! skipped; anything else (a property outside a section, an unknown property in
//! `curve`, a key given twice, a key that is not 40 characters of Z85, a secret key
//! whose public half is not the `public-key`) is refused with a [`ParseError`] that
//! names the line. The keys written by [`save`] are read back unchanged; the metadata
//! of a certificate is read, never written.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::{CurveKeyPair, CurvePublicKey};

/// What a certificate file holds: a public key, the key pair when the file is a
/// secret certificate, and its metadata.
///
/// Made by [`load`], or by parsing the text of a certificate:
///
/// ```
/// use monocoque::certificate::Certificate;
///
/// let text = "metadata\n    name = alice\ncurve\n    public-key = \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\n";
/// let cert: Certificate = text.parse()?;
/// assert_eq!(cert.public_key().to_z85(), "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID");
/// assert!(cert.key_pair().is_none()); // a public certificate
/// assert_eq!(cert.metadata(), [("name".to_string(), "alice".to_string())]);
/// # Ok::<(), monocoque::certificate::ParseError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    public: CurvePublicKey,
    pair: Option<CurveKeyPair>,
    metadata: Vec<(String, String)>,
}

impl Certificate {
    /// The public key (`public-key`).
    pub fn public_key(&self) -> CurvePublicKey {
        self.public
    }

    /// The key pair, when the certificate has a `secret-key` (a `.key_secret` file).
    pub fn key_pair(&self) -> Option<&CurveKeyPair> {
        self.pair.as_ref()
    }

    /// The `metadata` entries, in the file's order.
    pub fn metadata(&self) -> &[(String, String)] {
        &self.metadata
    }
}

/// Why a certificate could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A certificate could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file is not a certificate.
    #[error("{} is not a CURVE certificate: {source}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: ParseError,
    },
}

/// What is wrong with the text of a certificate. It never quotes a value, so it may
/// be shown whatever the file holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    line: Option<usize>,
    reason: String,
}

impl ParseError {
    fn at(line: usize, reason: impl Into<String>) -> ParseError {
        ParseError {
            line: Some(line),
            reason: reason.into(),
        }
    }

    /// The line at fault (from 1), or `None` when the whole text is (no public key).
    pub fn line(&self) -> Option<usize> {
        self.line
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// Writes `keys` as the certificates `BASE.key` (the public key) and
/// `BASE.key_secret` (both keys, readable by its owner only: mode 0600 from the
/// moment it is made), as pyzmq's `zmq.auth.create_certificates` does, and returns
/// their paths (public, secret). Existing files are replaced. `base` is a path
/// without the suffix: `certs/alice` writes `certs/alice.key` and
/// `certs/alice.key_secret` (the directory must exist).
///
/// ```no_run
/// use monocoque::certificate;
/// use monocoque::CurveKeyPair;
///
/// let (public, secret) = certificate::save("alice", &CurveKeyPair::generate())?;
/// assert_eq!(public, std::path::Path::new("alice.key"));
/// assert_eq!(secret, std::path::Path::new("alice.key_secret"));
/// # Ok::<(), certificate::CertificateError>(())
/// ```
pub fn save(
    base: impl AsRef<Path>,
    keys: &CurveKeyPair,
) -> Result<(PathBuf, PathBuf), CertificateError> {
    let base = base.as_ref();
    let public_path = suffixed(base, ".key");
    let secret_path = suffixed(base, ".key_secret");
    write_file(&public_path, &certificate_text(keys, false), false)?;
    write_file(&secret_path, &certificate_text(keys, true), true)?;
    Ok((public_path, secret_path))
}

/// Reads the certificate at `path`: a `.key_secret` file gives the key pair and the
/// public key, a `.key` file the public key only (whatever the name, what the file
/// holds decides). The file's text is zeroed once read.
///
/// ```no_run
/// use monocoque::{certificate, Options, Security};
///
/// let server = certificate::load("certs/server.key_secret")?;
/// let keys = server.key_pair().expect("a secret certificate").clone();
/// let options = Options {
///     security: Security::CurveServer { keys },
///     ..Options::default()
/// };
/// # let _ = options;
/// # Ok::<(), certificate::CertificateError>(())
/// ```
pub fn load(path: impl AsRef<Path>) -> Result<Certificate, CertificateError> {
    let path = path.as_ref();
    let bytes = Zeroizing::new(
        std::fs::read(path).map_err(|source| CertificateError::Read {
            path: path.to_path_buf(),
            source,
        })?,
    );
    let malformed = |source| CertificateError::Malformed {
        path: path.to_path_buf(),
        source,
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        malformed(ParseError::at(
            line_of(&bytes, e.valid_up_to()),
            "not UTF-8",
        ))
    })?;
    text.parse().map_err(malformed)
}

/// The public keys of the certificates in `dir`: every file whose name ends in `.key`
/// (not starting with `.`; subdirectories are not searched), as pyzmq's
/// `zmq.auth.load_certificates` reads them, in the order of their names. The
/// secret certificates beside them (`.key_secret`) and other files are left alone.
/// An empty directory gives no keys. A `.key` file that cannot be read or is not a
/// certificate is an error naming that file: the directory is taken whole or not at
/// all, so that a damaged certificate never silently locks its client out.
///
/// ```no_run
/// use monocoque::certificate;
///
/// for key in certificate::load_public_keys("certs/clients")? {
///     println!("{}", key.to_z85());
/// }
/// # Ok::<(), certificate::CertificateError>(())
/// ```
pub fn load_public_keys(dir: impl AsRef<Path>) -> Result<Vec<CurvePublicKey>, CertificateError> {
    let dir = dir.as_ref();
    let unreadable = |source| CertificateError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        let name = path
            .file_name()
            .map(|n| n.as_encoded_bytes())
            .unwrap_or_default();
        if name.ends_with(b".key") && !name.starts_with(b".") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|path| load(path).map(|cert| cert.public_key()))
        .collect()
}

impl FromStr for Certificate {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Certificate, ParseError> {
        let mut reader = Reader::default();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            reader
                .line(number, line)
                .map_err(|reason| ParseError::at(number, reason))?;
        }
        reader.finish()
    }
}

/// What the lines of a certificate read so far hold.
#[derive(Default)]
struct Reader {
    section: Section,
    metadata: Vec<(String, String)>,
    public: Option<CurvePublicKey>,
    /// The key pair, with the line of its `secret-key`.
    secret: Option<(usize, CurveKeyPair)>,
}

/// The section a property line belongs to.
#[derive(Clone, Copy, Default)]
enum Section {
    /// No section yet.
    #[default]
    Before,
    Metadata,
    Curve,
    /// A section certificates do not define: skipped.
    Other,
}

impl Reader {
    /// Reads line `number`; the error is the reason, without the line.
    fn line(&mut self, number: usize, line: &str) -> Result<(), String> {
        let content = line.trim_start_matches([' ', '\t']);
        if content.is_empty() || content.starts_with('#') {
            return Ok(());
        }
        let indent = &line[..line.len() - content.len()];
        // ZPL indents by four spaces a level; a tab is taken as one level too (pyzmq's
        // reader ignores indentation, so its directories may hold either), but not
        // both on one line.
        let level = match (indent.contains('\t'), indent.contains(' ')) {
            (true, true) => return Err("indented with both tabs and spaces".to_string()),
            (true, false) => indent.len(),
            _ if !indent.len().is_multiple_of(4) => {
                let n = indent.len();
                return Err(format!("indented by {n} spaces (ZPL indents by four)"));
            }
            _ => indent.len() / 4,
        };
        let (name, value) = property(content)?;
        let needs_value = || value.ok_or_else(|| format!("`{name}` has no value (name = value)"));
        match (level, self.section) {
            (0, _) if value.is_some() => {
                Err(format!("{name} is outside a section (metadata or curve)"))
            }
            (0, _) => {
                self.section = match name {
                    "metadata" => Section::Metadata,
                    "curve" => Section::Curve,
                    _ => Section::Other,
                };
                Ok(())
            }
            (_, Section::Other) => Ok(()),
            (_, Section::Before) => Err("indented line before any section".to_string()),
            (1, Section::Metadata) => {
                self.metadata
                    .push((name.to_string(), needs_value()?.to_string()));
                Ok(())
            }
            (1, Section::Curve) => self.key(number, name, needs_value()?),
            _ => Err(format!("{name} is nested in a property")),
        }
    }

    /// A property of the curve section.
    fn key(&mut self, number: usize, name: &str, value: &str) -> Result<(), String> {
        let again = || format!("a second {name}");
        let bad = |e: monocoque_zmtp::curve::KeyError| format!("{name}: {e}");
        match name {
            "public-key" if self.public.is_some() => Err(again()),
            "public-key" => {
                self.public = Some(CurvePublicKey::new(z85_key(name, value)?).map_err(bad)?);
                Ok(())
            }
            "secret-key" if self.secret.is_some() => Err(again()),
            "secret-key" => {
                let pair = CurveKeyPair::from_secret(z85_key(name, value)?).map_err(bad)?;
                self.secret = Some((number, pair));
                Ok(())
            }
            _ => Err(format!(
                "unknown property {name} in curve (public-key or secret-key)"
            )),
        }
    }

    /// The certificate the lines made.
    fn finish(self) -> Result<Certificate, ParseError> {
        let public = self.public.ok_or_else(|| ParseError {
            line: None,
            reason: "no public-key in a curve section".to_string(),
        })?;
        if let Some((line, pair)) = &self.secret {
            if pair.public() != public {
                return Err(ParseError::at(
                    *line,
                    "secret-key is not the secret of public-key",
                ));
            }
        }
        Ok(Certificate {
            public,
            pair: self.secret.map(|(_, pair)| pair),
            metadata: self.metadata,
        })
    }
}

/// A ZPL property line (without its indentation): its name, and its value if it has
/// one.
fn property(content: &str) -> Result<(&str, Option<&str>), String> {
    let name_chars = |c: char| c.is_ascii_alphanumeric() || "$-_@.&+/".contains(c);
    let end = content
        .find(|c: char| !name_chars(c))
        .unwrap_or(content.len());
    let (name, rest) = content.split_at(end);
    if name.is_empty() {
        return Err("a property name is letters, digits and $-_@.&+/".to_string());
    }
    let rest = rest.trim_start_matches([' ', '\t']);
    if rest.is_empty() || rest.starts_with('#') {
        return Ok((name, None));
    }
    let Some(value) = rest.strip_prefix('=') else {
        return Err(format!("`{name}` is followed by neither `=` nor a comment"));
    };
    let value = value.trim_start_matches([' ', '\t']);
    let quote = value.chars().next().filter(|&c| c == '"' || c == '\'');
    let Some(quote) = quote else {
        // Bare: up to a comment, which starts with a '#' after a blank.
        let end = value
            .char_indices()
            .find(|&(i, c)| c == '#' && value[..i].ends_with([' ', '\t']))
            .map_or(value.len(), |(i, _)| i);
        return Ok((name, Some(value[..end].trim_end_matches([' ', '\t']))));
    };
    let inner = &value[1..];
    let close = inner
        .find(quote)
        .ok_or_else(|| format!("the value of {name} has no closing quote"))?;
    let after = inner[close + 1..].trim_start_matches([' ', '\t']);
    if !after.is_empty() && !after.starts_with('#') {
        return Err(format!("text after the quoted value of {name}"));
    }
    Ok((name, Some(&inner[..close])))
}

/// A key's value, which in a certificate is always 40 characters of Z85 (never the
/// 32 raw bytes a [`CurvePublicKey`] also takes).
fn z85_key<'a>(name: &str, value: &'a str) -> Result<&'a str, String> {
    if !value.is_ascii() {
        Err(format!("{name} holds characters outside Z85"))
    } else if value.len() != 40 {
        let n = value.len();
        Err(format!("{name} is {n} characters long, not 40 of Z85"))
    } else {
        Ok(value)
    }
}

/// The line (from 1) that byte `offset` of `bytes` is on.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count()
}

/// `base` with `suffix` appended to its last component (`alice.v2` + `.key` is
/// `alice.v2.key`, where `with_extension` would drop the `.v2`).
fn suffixed(base: &Path, suffix: &str) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The text of the public (or the secret) certificate of `keys`. It is zeroed when
/// dropped, and made at its final size, so that no copy of the secret is left behind
/// by a growing buffer.
fn certificate_text(keys: &CurveKeyPair, secret: bool) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::with_capacity(512));
    if secret {
        text.push_str(
            "#   ZeroMQ CURVE **Secret** Certificate, written by Monocoque.\n\
             #   It holds the secret key: keep it to yourself, readable by you only.\n",
        );
    } else {
        text.push_str(
            "#   ZeroMQ CURVE Public Certificate, written by Monocoque.\n\
             #   It holds only the public key: hand it to the peers that must know you.\n",
        );
    }
    text.push_str("\nmetadata\ncurve\n    public-key = \"");
    text.push_str(&keys.public().to_z85());
    text.push_str("\"\n");
    if secret {
        text.push_str("    secret-key = \"");
        text.push_str(&keys.secret_z85());
        text.push_str("\"\n");
    }
    text
}

/// Writes `text` to `path`, created or truncated. A `secret` file is made with mode
/// 0600, and an existing one is given that mode before anything is written; other
/// files get the usual mode (0666 less the umask).
fn write_file(path: &Path, text: &str, secret: bool) -> Result<(), CertificateError> {
    const OWNER_ONLY: u32 = 0o600;
    let failed = |source| CertificateError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if secret {
        options.mode(OWNER_ONLY);
    }
    let mut file = options.open(path).map_err(failed)?;
    if secret {
        file.set_permissions(std::fs::Permissions::from_mode(OWNER_ONLY))
            .map_err(failed)?;
    }
    file.write_all(text.as_bytes()).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::Scratch;

    /// libzmq's test keys (its `zmq_curve` documentation).
    const PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    const SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
    const OTHER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";

    fn parse(text: &str) -> Result<Certificate, ParseError> {
        text.parse()
    }

    /// A certificate whose curve section is `curve` (lines without indentation).
    fn with_curve(curve: &str) -> String {
        let mut text = String::from("metadata\ncurve\n");
        for line in curve.lines() {
            text.push_str("    ");
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    #[test]
    fn saved_pairs_load_back_and_the_secret_file_is_private() {
        let dir = Scratch::new("certificate-save");
        let keys = CurveKeyPair::from_secret(SECRET).unwrap();
        // A dot in the name is kept: the suffix is appended.
        let (public, secret) = save(dir.0.join("alice.v2"), &keys).unwrap();
        assert_eq!(public, dir.0.join("alice.v2.key"));
        assert_eq!(secret, dir.0.join("alice.v2.key_secret"));

        let loaded = load(&secret).unwrap();
        assert_eq!(loaded.key_pair(), Some(&keys));
        assert_eq!(loaded.public_key().to_z85(), PUBLIC);
        assert!(loaded.metadata().is_empty());
        let public_only = load(&public).unwrap();
        assert_eq!(public_only.public_key(), keys.public());
        assert_eq!(public_only.key_pair(), None);
        assert!(!std::fs::read_to_string(&public).unwrap().contains(SECRET));

        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&secret), 0o600);
        // An existing secret file with a wider mode is narrowed when replaced.
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let other = CurveKeyPair::generate();
        save(dir.0.join("alice.v2"), &other).unwrap();
        assert_eq!(mode(&secret), 0o600);
        assert_eq!(load(&secret).unwrap().key_pair(), Some(&other));
    }

    #[test]
    fn certificates_as_pyzmq_writes_them_are_read() {
        // zmq.auth.create_certificates: a dated banner, metadata entries unquoted
        // (in the secret certificate only), keys in double quotes.
        let secret = format!(
            "#   ****  Generated on 2025-01-02 03:04:05.678901 by pyzmq  ****\n\
             #   ZeroMQ CURVE **Secret** Certificate\n\
             #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\
             \n\
             metadata\n    name = alice\n    team = red # blue\ncurve\n\
             \x20   public-key = \"{PUBLIC}\"\n    secret-key = \"{SECRET}\"\n"
        );
        let cert = parse(&secret).unwrap();
        assert_eq!(cert.public_key().to_z85(), PUBLIC);
        assert_eq!(&*cert.key_pair().unwrap().secret_z85(), SECRET);
        let entry = |name: &str, value: &str| (name.to_string(), value.to_string());
        assert_eq!(
            cert.metadata(),
            [entry("name", "alice"), entry("team", "red")]
        );

        let public = format!(
            "#   ****  Generated on 2025-01-02 03:04:05.678901 by pyzmq  ****\n\
             #   ZeroMQ CURVE Public Certificate\n\
             \n\
             metadata\ncurve\n    public-key = \"{PUBLIC}\"\n"
        );
        let cert = parse(&public).unwrap();
        assert_eq!(cert.public_key().to_z85(), PUBLIC);
        assert!(cert.key_pair().is_none());
    }

    #[test]
    fn tab_indented_certificates_are_read() {
        // pyzmq's reader ignores indentation, so a directory it accepts may hold these.
        let cert = parse(&format!("metadata\ncurve\n\tpublic-key = \"{PUBLIC}\"\n")).unwrap();
        assert_eq!(cert.public_key().to_z85(), PUBLIC);
    }

    #[test]
    fn zpl_variants_are_read() {
        // czmq's quoted metadata, single quotes, trailing comments, CR LF, indented
        // comments, a section certificates do not define, a bare key with '#' in it.
        let text = format!(
            "# czmq\r\nmetadata\r\n    name = \"Alice # Smith\"\r\n\t# note\r\n\r\n\
             extra\r\n    anything = goes\r\n        deeper\r\n\
             curve\r\n    public-key = '{PUBLIC}'   # hers\r\n    secret-key={SECRET}\r\n"
        );
        let cert = parse(&text).unwrap();
        assert_eq!(
            cert.metadata(),
            [("name".to_string(), "Alice # Smith".to_string())]
        );
        assert_eq!(&*cert.key_pair().unwrap().secret_z85(), SECRET);
        let bare_hash = with_curve("public-key = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
        assert_eq!(
            parse(&bare_hash).unwrap().public_key().to_z85(),
            OTHER_PUBLIC
        );
        assert!(OTHER_PUBLIC.contains('@') && SECRET.contains('%'));
    }

    #[test]
    fn malformed_certificates_are_refused_with_their_line() {
        let cases: Vec<(String, Option<usize>, &str)> = vec![
            ("metadata\ncurve\n".into(), None, "no public-key"),
            ("# only a comment\n".into(), None, "no public-key"),
            (
                format!("public-key = \"{PUBLIC}\"\n"),
                Some(1),
                "outside a section",
            ),
            (
                format!("    public-key = \"{PUBLIC}\"\n"),
                Some(1),
                "before any section",
            ),
            (
                format!("curve\n\t    public-key = \"{PUBLIC}\"\n"),
                Some(2),
                "both tabs and spaces",
            ),
            (
                format!("curve\n  public-key = \"{PUBLIC}\"\n"),
                Some(2),
                "2 spaces",
            ),
            (
                format!("curve\n        public-key = \"{PUBLIC}\"\n"),
                Some(2),
                "nested",
            ),
            (with_curve("public-key"), Some(3), "no value"),
            (with_curve("public-key = \"abc\""), Some(3), "3 characters"),
            (
                with_curve(&format!("public-key = \"{PUBLIC}")),
                Some(3),
                "closing quote",
            ),
            (
                with_curve(&format!("public-key = \"{PUBLIC}\" trailing")),
                Some(3),
                "text after",
            ),
            (
                with_curve(&format!("public-key : \"{PUBLIC}\"")),
                Some(3),
                "neither `=`",
            ),
            (
                with_curve(&format!(
                    "public-key = \"{PUBLIC}\"\npublic-key = \"{PUBLIC}\""
                )),
                Some(4),
                "a second public-key",
            ),
            (
                with_curve(&format!("public_key = \"{PUBLIC}\"")),
                Some(3),
                "unknown property public_key",
            ),
            (
                with_curve(&format!("public-key = \"{}\"", "~".repeat(40))),
                Some(3),
                "not Z85",
            ),
            (
                with_curve(&format!(
                    "public-key = \"{OTHER_PUBLIC}\"\nsecret-key = \"{SECRET}\""
                )),
                Some(4),
                "not the secret of public-key",
            ),
            (
                with_curve(&format!("secret-key = \"{SECRET}\"")),
                None,
                "no public-key",
            ),
            ("metadata\n    = x\n".into(), Some(2), "property name"),
            ("metadata\n    name\n".into(), Some(2), "no value"),
        ];
        for (text, line, reason) in cases {
            let err = parse(&text).expect_err(&text);
            assert_eq!(err.line(), line, "{text:?}: {err}");
            assert!(err.to_string().contains(reason), "{text:?}: {err}");
        }
    }

    #[test]
    fn errors_never_show_a_secret() {
        let bad_secret = &SECRET[..39];
        for text in [
            with_curve(&format!(
                "public-key = \"{PUBLIC}\"\nsecret-key = \"{bad_secret}\""
            )),
            with_curve(&format!(
                "public-key = \"{PUBLIC}\"\nsecret-key = \"{bad_secret}~\""
            )),
            with_curve(&format!(
                "public-key = \"{PUBLIC}\"\nsecret-key = \"{SECRET}\" x"
            )),
        ] {
            let err = parse(&text).unwrap_err().to_string();
            assert!(!err.contains(bad_secret), "{err}");
        }
    }

    #[test]
    fn files_that_are_not_certificates_are_named_in_the_error() {
        let dir = Scratch::new("certificate-load");
        let missing = dir.0.join("missing.key");
        let err = load(&missing).unwrap_err();
        assert!(matches!(&err, CertificateError::Read { path, .. } if *path == missing));
        assert!(err.to_string().contains("missing.key"), "{err}");

        let binary = dir.0.join("binary.key");
        std::fs::write(&binary, b"metadata\ncurve\n    \xff\n").unwrap();
        let err = load(&binary).unwrap_err();
        match &err {
            CertificateError::Malformed { path, source } => {
                assert_eq!(*path, binary);
                assert_eq!(source.line(), Some(3));
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("binary.key") && err.to_string().contains("UTF-8"));
    }

    #[test]
    fn a_directory_gives_the_key_of_every_key_file() {
        let dir = Scratch::new("certificate-dir");
        assert_eq!(load_public_keys(&dir.0).unwrap(), []);
        let alice = CurveKeyPair::generate();
        let bob = CurveKeyPair::generate();
        save(dir.0.join("bob"), &bob).unwrap();
        save(dir.0.join("alice"), &alice).unwrap();
        // Not certificates to load: other names, hidden files, subdirectories' files.
        dir.write("notes.txt", "not a certificate");
        dir.write(".hidden.key", "not a certificate");
        std::fs::create_dir(dir.0.join("sub")).unwrap();
        save(dir.0.join("sub").join("carol"), &CurveKeyPair::generate()).unwrap();
        assert_eq!(
            load_public_keys(&dir.0).unwrap(),
            [alice.public(), bob.public()],
            "in the order of the file names"
        );

        let broken = dir.write("broken.key", "metadata\ncurve\n");
        let err = load_public_keys(&dir.0).unwrap_err();
        assert!(
            matches!(&err, CertificateError::Malformed { path, .. } if *path == broken),
            "{err:?}"
        );
        assert!(err.to_string().contains("broken.key"), "{err}");

        let missing = dir.0.join("nowhere");
        let err = load_public_keys(&missing).unwrap_err();
        assert!(matches!(&err, CertificateError::Read { path, .. } if *path == missing));
    }
}
