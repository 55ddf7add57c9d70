//! Turning token usage and time into money.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{ChatResponse, Stage};

/// The price of one model: per million input and output tokens, plus an optional energy rate
/// for local models (watts drawn while generating × price of a kWh).
///
/// ```
/// use slm_core::{Price, Usage};
/// let p = Price::per_million(2.5, 10.0);
/// let cost = p.cost(Usage::new(1_000_000, 100_000), std::time::Duration::ZERO);
/// assert!((cost - 3.5).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Price {
    /// Currency units per million prompt tokens.
    pub input_per_million: f64,
    /// Currency units per million completion tokens.
    pub output_per_million: f64,
    /// Power drawn while the model works, in watts (local models).
    #[serde(default)]
    pub watts: f64,
    /// Price of one kilowatt-hour.
    #[serde(default)]
    pub per_kwh: f64,
}

impl Price {
    /// A token price.
    ///
    /// ```
    /// assert_eq!(slm_core::Price::per_million(1.0, 2.0).output_per_million, 2.0);
    /// ```
    pub fn per_million(input: f64, output: f64) -> Self {
        Self {
            input_per_million: input,
            output_per_million: output,
            ..Self::default()
        }
    }

    /// An energy price for a local model: `watts` drawn at `per_kwh` per kilowatt-hour.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = slm_core::Price::energy(100.0, 0.30);
    /// // 100 W for one hour = 0.1 kWh = 0.03
    /// assert!((p.cost(Default::default(), Duration::from_secs(3600)) - 0.03).abs() < 1e-9);
    /// ```
    pub fn energy(watts: f64, per_kwh: f64) -> Self {
        Self {
            watts,
            per_kwh,
            ..Self::default()
        }
    }

    /// Cost of `usage` tokens produced in `elapsed` time.
    ///
    /// ```
    /// assert_eq!(slm_core::Price::default().cost(slm_core::Usage::new(9, 9), Default::default()), 0.0);
    /// ```
    pub fn cost(&self, usage: crate::Usage, elapsed: std::time::Duration) -> f64 {
        let tokens = usage.prompt_tokens as f64 * self.input_per_million / 1e6
            + usage.completion_tokens as f64 * self.output_per_million / 1e6;
        let kwh = self.watts * elapsed.as_secs_f64() / 3600.0 / 1000.0;
        tokens + kwh * self.per_kwh
    }
}

/// Prices by model id. Models without a price cost 0 (local models, unless given an energy rate).
///
/// ```
/// use slm_core::{ChatResponse, CostModel, Price, Usage};
/// let costs = CostModel::new().price("gpt-4o", Price::per_million(2.5, 10.0));
/// let mut r = ChatResponse::from_text("gpt-4o", "hi");
/// r.usage = Usage::new(400, 100);
/// assert!((costs.response_cost(&r) - 0.002).abs() < 1e-12);
/// r.model = "phi-4-mini".into();
/// assert_eq!(costs.response_cost(&r), 0.0);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CostModel {
    prices: HashMap<String, Price>,
}

impl CostModel {
    /// An empty price list (everything free).
    ///
    /// ```
    /// assert_eq!(slm_core::CostModel::new().price_of("x"), None);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the price of a model id.
    ///
    /// ```
    /// let c = slm_core::CostModel::new().price("m", slm_core::Price::per_million(1.0, 1.0));
    /// assert!(c.price_of("m").is_some());
    /// ```
    pub fn price(mut self, model: impl Into<String>, price: Price) -> Self {
        self.prices.insert(model.into(), price);
        self
    }

    /// The price of a model id, if set.
    ///
    /// ```
    /// assert!(slm_core::CostModel::new().price_of("m").is_none());
    /// ```
    pub fn price_of(&self, model: &str) -> Option<&Price> {
        self.prices.get(model)
    }

    /// Cost of one stage.
    ///
    /// ```
    /// let s = slm_core::Stage::new("draft", "local");
    /// assert_eq!(slm_core::CostModel::new().stage_cost(&s), 0.0);
    /// ```
    pub fn stage_cost(&self, stage: &Stage) -> f64 {
        self.price_of(&stage.model)
            .map(|p| p.cost(stage.usage, stage.timings.total))
            .unwrap_or(0.0)
    }

    /// Cost of a response: the sum over its stages (the blended cost of a composition).
    ///
    /// ```
    /// let r = slm_core::ChatResponse::from_text("m", "x");
    /// assert_eq!(slm_core::CostModel::new().response_cost(&r), 0.0);
    /// ```
    pub fn response_cost(&self, response: &ChatResponse) -> f64 {
        response
            .stages_or_self()
            .iter()
            .map(|s| self.stage_cost(s))
            .sum()
    }

    /// Cost of a whole run of responses.
    ///
    /// ```
    /// let r = slm_core::ChatResponse::from_text("m", "x");
    /// assert_eq!(slm_core::CostModel::new().run_cost([&r, &r]), 0.0);
    /// ```
    pub fn run_cost<'a>(&self, responses: impl IntoIterator<Item = &'a ChatResponse>) -> f64 {
        responses.into_iter().map(|r| self.response_cost(r)).sum()
    }
}
