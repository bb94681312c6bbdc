extension RiskLevel {
    /// The band `score` falls in under the policy's thresholds.
    public init(score: Int, policy: PolicySettings) {
        if score >= policy.highFrom {
            self = .high
        } else if score >= policy.mediumFrom {
            self = .medium
        } else {
            self = .low
        }
    }
}
