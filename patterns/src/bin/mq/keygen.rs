//! `mq keygen`: a new CURVE key pair, printed (public key, then secret key, in Z85)
//! or written as certificates in the format pyzmq's `zmq.auth` reads and writes
//! (`NAME.key` with the public key, `NAME.key_secret` with both).

use monocoque::CurveKeyPair;

/// Prints or writes a fresh key pair.
pub fn run(out: Option<&str>) -> Result<(), String> {
    let pair = CurveKeyPair::generate();
    let public = pair.public().to_z85();
    let secret = pair.secret_z85();
    let Some(name) = out else {
        println!("{public}");
        println!("{}", &*secret);
        return Ok(());
    };
    let write = |path: String, body: String| {
        std::fs::write(&path, body).map_err(|e| format!("cannot write {path}: {e}"))
    };
    write(
        format!("{name}.key"),
        certificate("Public", &format!("    public-key = \"{public}\"\n")),
    )?;
    let secret_path = format!("{name}.key_secret");
    write(
        secret_path.clone(),
        certificate(
            "Secret",
            &format!(
                "    public-key = \"{public}\"\n    secret-key = \"{}\"\n",
                &*secret
            ),
        ),
    )?;
    restrict(&secret_path)?;
    eprintln!("mq: wrote {name}.key and {secret_path}");
    Ok(())
}

/// A ZPL certificate: comment lines, then `metadata` and `curve` sections.
fn certificate(kind: &str, keys: &str) -> String {
    format!(
        "#   ZeroMQ CURVE {kind} Certificate, written by mq\n\
         #   Exchange public certificates freely; keep secret ones to yourself.\n\
         \n\
         metadata\n\
         curve\n\
         {keys}"
    )
}

/// The secret certificate is readable by its owner only.
fn restrict(path: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot restrict {path}: {e}"))
}
