//! The fraud model: an ONNX tree ensemble run by tract, loaded and optimised once per
//! process. The model carries the feature names it was trained on; loading checks them
//! against [`FEATURE_NAMES`], so training and serving cannot silently disagree.

use crate::features::{FEATURE_NAMES, Features, N_FEATURES};
use std::sync::Arc;
use tract_onnx::prelude::*;

/// The model trained by `infra/model/train.py`, shipped inside the binary so a cold
/// start reads no file.
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../model/vigil.onnx");

const META_FEATURES: &str = "onnx.metadata_props.vigil.features";
const META_BASELINE: &str = "onnx.metadata_props.vigil.baseline";
const META_VERSION: &str = "onnx.metadata_props.vigil.model_version";

/// Smallest drop in score for a feature to be named as a reason (after the first).
const MIN_REASON_WEIGHT: f32 = 0.01;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file could not be read: {0}")]
    Io(#[from] std::io::Error),
    #[error("model is not a usable ONNX graph: {0}")]
    Onnx(String),
    #[error("model metadata `{0}` is missing: re-export it with infra/model/train.py")]
    MissingMetadata(&'static str),
    #[error("model expects features [{found}] but this build computes [{expected}]")]
    FeatureMismatch { expected: String, found: String },
    #[error("model baseline has {0} values, expected {N_FEATURES}")]
    BadBaseline(usize),
    #[error("model output is not a [rows, 2] probability tensor: {0}")]
    BadOutput(String),
}

fn onnx_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Onnx(format!("{e:#}"))
}

/// A feature that pushed a score up, found by replacing it with its typical value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contribution {
    pub feature: usize,
    /// How much the score falls when this feature takes its typical value.
    pub weight: f32,
}

pub struct Model {
    plan: Arc<TypedRunnableModel>,
    /// Typical (median) feature values from training, the reference for explanations.
    baseline: Features,
    version: String,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("version", &self.version).finish_non_exhaustive()
    }
}

fn meta(model: &InferenceModel, key: &'static str) -> Result<String, ModelError> {
    let value = model.properties.get(key).ok_or(ModelError::MissingMetadata(key))?;
    let view = value.try_as_plain_ram().map_err(onnx_err)?;
    view.to_scalar::<String>().cloned().map_err(onnx_err)
}

impl Model {
    /// The model shipped with this build.
    pub fn embedded() -> Result<Model, ModelError> {
        Self::from_bytes(EMBEDDED_MODEL)
    }

    pub fn load(path: &std::path::Path) -> Result<Model, ModelError> {
        Self::from_bytes(&std::fs::read(path)?)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        let mut model = tract_onnx::onnx().model_for_read(&mut &bytes[..]).map_err(onnx_err)?;

        let found = meta(&model, META_FEATURES)?;
        let expected = FEATURE_NAMES.join(",");
        if found != expected {
            return Err(ModelError::FeatureMismatch { expected, found });
        }
        let baseline: Vec<f32> = meta(&model, META_BASELINE)?
            .split(',')
            .map(|v| v.trim().parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|e| ModelError::Onnx(format!("baseline: {e}")))?;
        let baseline =
            Features(baseline.as_slice().try_into().map_err(|_| ModelError::BadBaseline(baseline.len()))?);
        let version = meta(&model, META_VERSION)?;

        // Keep only the probabilities (the classifier's last output): the predicted-label
        // branch would cost time on every call for nothing.
        let probabilities = *model
            .output_outlets()
            .map_err(onnx_err)?
            .last()
            .ok_or_else(|| ModelError::BadOutput("no outputs".into()))?;
        model.select_output_outlets(&[probabilities]).map_err(onnx_err)?;
        // Rows are a symbol so one optimised plan scores a whole batch in one call.
        let rows = model.symbols.sym("rows");
        model.set_input_fact(0, f32::fact([rows.to_dim(), N_FEATURES.to_dim()]).into()).map_err(onnx_err)?;
        let plan = model.into_optimized().and_then(|m| m.into_runnable()).map_err(onnx_err)?;
        let model = Model { plan, baseline, version };
        // Fail at init, not on the first transaction, if the outputs are not as expected.
        model.score_rows(&[model.baseline])?;
        Ok(model)
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Fraud probability for each row, in order.
    fn score_rows(&self, rows: &[Features]) -> Result<Vec<f32>, ModelError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let flat: Vec<f32> = rows.iter().flat_map(|f| f.0).collect();
        let input = Tensor::from_shape(&[rows.len(), N_FEATURES], &flat).map_err(onnx_err)?;
        let outputs = self.plan.run(tvec!(input.into_tvalue())).map_err(onnx_err)?;
        let probs = outputs
            .first()
            .ok_or_else(|| ModelError::BadOutput("no outputs".into()))?
            .try_as_plain_ram()
            .map_err(onnx_err)?;
        let probs = probs.to_array_view::<f32>().map_err(onnx_err)?;
        if probs.shape() != [rows.len(), 2] {
            return Err(ModelError::BadOutput(format!("shape {:?}", probs.shape())));
        }
        Ok((0..rows.len()).map(|r| probs[[r, 1]]).collect())
    }

    /// The features that pushed `score` up most, strongest first: each is replaced in
    /// turn by its typical value and the drop in score is its weight. Costs one batched
    /// model call, so it is only worth doing for alerts.
    fn explain_row(
        &self,
        features: &Features,
        score: f32,
        top: usize,
    ) -> Result<Vec<Contribution>, ModelError> {
        let variants: Vec<Features> = (0..N_FEATURES)
            .map(|i| {
                let mut v = *features;
                v.0[i] = self.baseline.0[i];
                v
            })
            .collect();
        let scores = self.score_rows(&variants)?;
        let mut contributions: Vec<Contribution> = scores
            .into_iter()
            .enumerate()
            .map(|(feature, s)| Contribution { feature, weight: score - s })
            .filter(|c| c.weight > 0.0)
            .collect();
        contributions.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        // Reasons that barely move the score are noise to an analyst; the strongest stays.
        let keep = contributions.iter().skip(1).take_while(|c| c.weight >= MIN_REASON_WEIGHT).count() + 1;
        contributions.truncate(top.min(keep));
        Ok(contributions)
    }
}

/// What the scorer needs from a model.
pub trait FraudModel: Send + Sync {
    /// Fraud probability for each row, in order.
    fn score(&self, rows: &[Features]) -> Result<Vec<f32>, ModelError>;
    /// The features that pushed `score` up most, strongest first.
    fn explain(&self, features: &Features, score: f32, top: usize) -> Result<Vec<Contribution>, ModelError>;
    /// What a decision names as its model (the ONNX metadata's version).
    fn version(&self) -> &str {
        "none"
    }
}

impl FraudModel for Model {
    fn score(&self, rows: &[Features]) -> Result<Vec<f32>, ModelError> {
        self.score_rows(rows)
    }

    fn explain(&self, features: &Features, score: f32, top: usize) -> Result<Vec<Contribution>, ModelError> {
        self.explain_row(features, score, top)
    }

    fn version(&self) -> &str {
        &self.version
    }
}

/// Scores everything 0: runs the full pipeline to export features for training,
/// before any model exists.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoModel;

impl FraudModel for NoModel {
    fn score(&self, rows: &[Features]) -> Result<Vec<f32>, ModelError> {
        Ok(vec![0.0; rows.len()])
    }

    fn explain(&self, _: &Features, _: f32, _: usize) -> Result<Vec<Contribution>, ModelError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::pb::{ModelProto, StringStringEntryProto};
    use tract_onnx::prelude::Framework;

    /// Re-encodes the embedded model with one metadata entry changed.
    fn with_meta(key: &str, value: Option<&str>) -> Vec<u8> {
        let mut proto: ModelProto =
            tract_onnx::onnx().proto_model_for_read(&mut &EMBEDDED_MODEL[..]).unwrap();
        proto.metadata_props.retain(|e| e.key != key);
        if let Some(value) = value {
            proto.metadata_props.push(StringStringEntryProto { key: key.into(), value: value.into() });
        }
        prost_encode(&proto)
    }

    fn prost_encode(proto: &ModelProto) -> Vec<u8> {
        use prost::Message;
        proto.encode_to_vec()
    }

    #[test]
    fn the_embedded_model_loads_and_scores_probabilities() {
        let model = Model::embedded().unwrap();
        assert!(!model.version().is_empty());
        let scores = model.score(&[Features([0.0; N_FEATURES]), model.baseline]).unwrap();
        assert_eq!(scores.len(), 2);
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    }

    #[test]
    fn a_model_trained_on_other_features_is_refused() {
        let bytes = with_meta("vigil.features", Some("tx_amount,tx_during_weekend"));
        let err = Model::from_bytes(&bytes).unwrap_err();
        assert!(matches!(err, ModelError::FeatureMismatch { .. }), "{err}");
        assert!(err.to_string().contains("tx_amount,tx_during_weekend"));
    }

    #[test]
    fn a_model_without_its_contract_is_refused() {
        let err = Model::from_bytes(&with_meta("vigil.features", None)).unwrap_err();
        assert!(matches!(err, ModelError::MissingMetadata(_)), "{err}");
        let err = Model::from_bytes(&with_meta("vigil.baseline", Some("1,2"))).unwrap_err();
        assert!(matches!(err, ModelError::BadBaseline(2)), "{err}");
        assert!(matches!(Model::from_bytes(b"not onnx"), Err(ModelError::Onnx(_))));
    }

    /// Training and serving agree: the scores onnxruntime gave at export time.
    #[test]
    fn scores_match_the_exporters_reference() {
        #[derive(serde::Deserialize)]
        struct Reference {
            rows: Vec<[f32; N_FEATURES]>,
            scores: Vec<f32>,
        }
        let r: Reference = serde_json::from_str(include_str!("../model/reference.json")).unwrap();
        let rows: Vec<Features> = r.rows.into_iter().map(Features).collect();
        let scores = Model::embedded().unwrap().score(&rows).unwrap();
        for (got, want) in scores.iter().zip(&r.scores) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
    }

    #[test]
    fn a_large_amount_is_explained_by_the_amount() {
        use crate::features::{CustomerState, FeatureEngine, TerminalState};
        let engine = FeatureEngine::default();
        let (mut c, mut t) = (CustomerState::default(), TerminalState::default());
        let start: chrono::DateTime<chrono::Utc> = "2018-04-01T12:00:00Z".parse().unwrap();
        let tx = |hours: i64, amount: &str| {
            let at = (start + chrono::TimeDelta::hours(hours)).to_rfc3339();
            crate::test_support::tx("t", "c", "p", amount, &at)
        };
        for day in 0..20 {
            engine.observe(&tx(24 * day, "45.10"), &mut c, &mut t);
        }
        let usual = engine.observe(&tx(24 * 20, "52.30"), &mut c, &mut t);
        let large = engine.observe(&tx(24 * 20 + 2, "480.00"), &mut c, &mut t);

        let model = Model::embedded().unwrap();
        let scores = model.score(&[usual, large]).unwrap();
        assert!(scores[0] < 0.1 && scores[1] > 0.9, "{scores:?}");
        let top = model.explain(&large, scores[1], 3).unwrap();
        assert!(FEATURE_NAMES[top[0].feature].contains("amount"), "{:?}", FEATURE_NAMES[top[0].feature]);
        assert!(top.windows(2).all(|w| w[0].weight >= w[1].weight));
        assert!(top.iter().skip(1).all(|c| c.weight >= MIN_REASON_WEIGHT));
    }
}
