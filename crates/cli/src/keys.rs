//! `mcnode keygen ...` and `mcnode tls-cert`: keys and certificates for operators and
//! wallet users.

use std::{
    fs,
    path::{Path, PathBuf},
};

use mcnode_util::fs::{Mode, WriteError};

use anyhow::Context;
use mcnode_crypto::Ed25519Signer;
use mcnode_transaction::AccountKey;
use serde_json::json;

/// What `mcnode keygen` makes.
#[derive(Debug, clap::Subcommand)]
pub enum KeygenCommand {
    /// A message-signer key (`--msg-signer-key`): base64 of the PKCS#8 DER Ed25519 key.
    /// Prints the public key in both URI forms (`consensus-msg-key`).
    MsgSigner(MsgSignerArgs),
    /// A wallet account: a key file (JSON, secret) and its printable public address.
    Account(AccountArgs),
}

/// Arguments of `mcnode keygen msg-signer`.
#[derive(Debug, clap::Args)]
pub struct MsgSignerArgs {
    /// Write the private key (base64 PKCS#8) to this file (mode 0600, never overwritten)
    /// instead of printing it.
    #[arg(long, env = "MC_KEYGEN_OUT")]
    out: Option<PathBuf>,
}

/// Arguments of `mcnode keygen account`.
#[derive(Debug, clap::Args)]
pub struct AccountArgs {
    /// Write the key file (JSON) here (mode 0600, never overwritten) and the address to
    /// `<out>.pub`, instead of printing the key file.
    #[arg(long, env = "MC_KEYGEN_OUT")]
    out: Option<PathBuf>,
}

/// Arguments of `mcnode tls-cert`.
#[derive(Debug, clap::Args)]
pub struct TlsCertArgs {
    /// The host name (DNS name or IP) the certificate is for.
    #[arg(long, env = "MC_TLS_HOST")]
    host: String,
    /// Directory for `<host>.crt.pem` and `<host>.key.pem` (key mode 0600); without it,
    /// both PEMs are printed.
    #[arg(long, env = "MC_TLS_OUT")]
    out: Option<PathBuf>,
}

/// Writes a secret file: mode 0600, durably and atomically, refusing to overwrite.
pub fn write_secret(path: &Path, contents: &str) -> anyhow::Result<()> {
    write_new(path, contents, Mode::Secret)
}

/// Writes a public file durably and atomically, refusing to overwrite.
pub fn write_public(path: &Path, contents: &str) -> anyhow::Result<()> {
    write_new(path, contents, Mode::Public)
}

fn write_new(path: &Path, contents: &str, mode: Mode) -> anyhow::Result<()> {
    mcnode_util::fs::write_new(path, contents.as_bytes(), mode).map_err(|e| match e {
        WriteError::Exists(_) => {
            anyhow::anyhow!("cannot create {} (it must not exist yet)", path.display())
        }
        e => e.into(),
    })
}

/// Runs `mcnode keygen`.
pub fn keygen(cmd: KeygenCommand) -> anyhow::Result<()> {
    let mut rng = rand::rngs::OsRng;
    match cmd {
        KeygenCommand::MsgSigner(args) => {
            let key = Ed25519Signer::random(&mut rng);
            let public = key.public();
            let mut out = json!({
                "public_key_der_base64url": public.to_base64url_der(),
                "public_key_hex": public.to_hex(),
            });
            match &args.out {
                Some(path) => {
                    write_secret(path, &format!("{}\n", key.to_base64_pkcs8()))?;
                    out["private_key_file"] = json!(path.display().to_string());
                }
                None => out["msg_signer_key"] = json!(key.to_base64_pkcs8()),
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        KeygenCommand::Account(args) => {
            let account = AccountKey::random(&mut rng);
            let key_file = serde_json::to_string_pretty(&account.to_key_file())?;
            let address = account.default_address().to_string();
            let mut out = json!({ "address": address });
            match &args.out {
                Some(path) => {
                    write_secret(path, &format!("{key_file}\n"))?;
                    let pub_path = PathBuf::from(format!("{}.pub", path.display()));
                    write_public(&pub_path, &format!("{address}\n"))?;
                    out["key_file"] = json!(path.display().to_string());
                    out["address_file"] = json!(pub_path.display().to_string());
                }
                None => out["key_file_contents"] = serde_json::to_value(account.to_key_file())?,
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    Ok(())
}

/// Runs `mcnode tls-cert`: a self-signed certificate for `--host` and its key (PEM).
pub fn tls_cert(args: TlsCertArgs) -> anyhow::Result<()> {
    if args.host.is_empty() || args.host.contains(['/', ' ']) {
        anyhow::bail!(
            "--host must be a DNS name or an IP address, got {:?}",
            args.host
        );
    }
    let certified = rcgen::generate_simple_self_signed(vec![args.host.clone()])
        .with_context(|| format!("cannot make a certificate for {}", args.host))?;
    let cert = certified.cert.pem();
    let key = certified.signing_key.serialize_pem();
    match &args.out {
        Some(dir) => {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let cert_path = dir.join(format!("{}.crt.pem", args.host));
            let key_path = dir.join(format!("{}.key.pem", args.host));
            write_public(&cert_path, &cert)?;
            write_secret(&key_path, &key)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "host": args.host,
                    "certificate": cert_path.display().to_string(),
                    "key": key_path.display().to_string(),
                }))?
            );
        }
        None => print!("{cert}{key}"),
    }
    Ok(())
}
