//! `trailmap generate`: write a synthetic archive (the one `sample-data/` was made with).

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;

use super::Outcome;
use anyhow::Context;
use trailmap::generate::{DEFAULT_BUCKET, DigestChain, GeneratorConfig, generate};
use trailmap::verify::keys::{PublicKeys, SigningKey};
use trailmap::verify::signatures::SignatureFile;

/// Write a synthetic CloudTrail archive in the real key layout.
///
/// The same options always give the same bytes. sample-data/ is
/// `trailmap generate -o sample-data` with the defaults.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write into (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Number of records in all files together.
    #[arg(long, default_value_t = GeneratorConfig::default().events)]
    pub events: usize,
    /// Records per log file.
    #[arg(long, default_value_t = GeneratorConfig::default().events_per_file)]
    pub events_per_file: usize,
    /// Seed of all random choices.
    #[arg(long, default_value_t = GeneratorConfig::default().seed)]
    pub seed: u64,
    /// First day (YYYY-MM-DD).
    #[arg(long, default_value_t = GeneratorConfig::default().start)]
    pub start: NaiveDate,
    /// Number of days covered.
    #[arg(long, default_value_t = GeneratorConfig::default().days)]
    pub days: u32,
    /// Percentage of records that are Bedrock invocations (real archives: a few percent; 2 gives
    /// the realistic mix of the benchmarks).
    #[arg(long, value_name = "PERCENT", default_value_t = GeneratorConfig::default().invocation_percent,
          value_parser = clap::value_parser!(u64).range(0..=100))]
    pub invocation_percent: u64,
    /// Also write a file CloudTrail never writes: a log file with a second gzip member
    /// appended (trailmap must report it as a load error).
    #[arg(long)]
    pub bad: bool,
    /// Write the hourly digest chain CloudTrail writes with log file validation on (one digest
    /// per hour, account and Region, hashes of every log file), for `trailmap verify`.
    /// Without it, a few placeholder digest files are written.
    #[arg(long)]
    pub digest_chain: bool,
    /// Sign the digest chain with this PEM RSA private key (implies --digest-chain), as
    /// CloudTrail does; each signature is written beside its digest as DIGEST.json.gz.sig, to
    /// be uploaded as the object's x-amz-meta-signature. Make a key with
    /// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem`.
    #[arg(long, value_name = "PEM")]
    pub sign_key: Option<PathBuf>,
    /// With --sign-key: write the public key here, as `aws cloudtrail list-public-keys`
    /// prints it (for `trailmap verify --public-keys`).
    #[arg(long, value_name = "FILE.json", requires = "sign_key")]
    pub public_keys_out: Option<PathBuf>,
    /// With --sign-key: write every digest's signature here, as `trailmap verify
    /// --save-signatures` saves them from S3, for checking the archive as a local copy
    /// (`trailmap verify -s OUT --signatures FILE`).
    #[arg(long, value_name = "FILE.json", requires = "sign_key")]
    pub signatures_out: Option<PathBuf>,
    /// The bucket the digests name: the archive is meant to be that bucket's content.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_BUCKET)]
    pub bucket: String,
}

/// Runs `trailmap generate`.
pub fn run(args: GenerateArgs) -> anyhow::Result<Outcome> {
    let signing_key_pem = match &args.sign_key {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read signing key {}", path.display()))?,
        ),
        None => None,
    };
    if let (Some(pem), Some(out)) = (&signing_key_pem, &args.public_keys_out) {
        let origin = args.sign_key.as_deref().map(|p| p.display().to_string());
        let key = SigningKey::from_pem(pem, origin.as_deref().unwrap_or_default())?;
        std::fs::write(out, key.public_keys_json()?)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    let digest_chain = (args.digest_chain || signing_key_pem.is_some()).then(|| DigestChain {
        bucket: args.bucket.clone(),
        signing_key_pem,
    });
    let config = GeneratorConfig {
        events: args.events,
        events_per_file: args.events_per_file,
        seed: args.seed,
        start: args.start,
        days: args.days,
        invocation_percent: args.invocation_percent,
        bad: args.bad,
        digest_chain,
    };
    let written = generate(&args.output, &config)?;
    if let (Some(chain), Some(out)) = (&config.digest_chain, &args.signatures_out)
        && let Some(pem) = &chain.signing_key_pem
    {
        let mut keys = PublicKeys::default();
        keys.insert(SigningKey::from_pem(pem, "the signing key")?.public_der());
        SignatureFile::new(written.signatures.clone(), &keys)?.save(out)?;
    }
    eprintln!(
        "trailmap: wrote {} log files ({} records), {} digest files and {} bad file(s) under {}",
        written.log_files,
        written.events,
        written.digest_files,
        written.bad_files,
        args.output.display()
    );
    Ok(Outcome::Success)
}
