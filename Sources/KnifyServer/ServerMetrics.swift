import Foundation
import Knaps
import Metrics
import Prometheus
import Storage

/// The Prometheus side of Knify's metrics. Counters and histograms are recorded through swift-metrics where the
/// events happen (`knify_job_duration_seconds` in Jobs, `knify_pool_*` in Sandboxes, `knify_engine_request_seconds`
/// in DockerEngine); levels that the store already knows (jobs by status, sandboxes by state) are read at scrape
/// time instead of being kept in step by hand.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    /// Makes the registry swift-metrics' backend. swift-metrics has one process-wide backend, bootstrapped once;
    /// a second call (tests build several servers) shares the first registry.
    public static func bootstrap() -> ServerMetrics {
        shared
    }

    private static let shared: ServerMetrics = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(1800),
        ]
        MetricsSystem.bootstrap(factory)
        return ServerMetrics(registry: registry)
    }()

    private init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// Registers the series other layers record into, at zero, so a fresh server's scrape already lists them
    /// (dashboards and alerts see a 0, not a missing series).
    func prepare(policies: some Sequence<String>, jobTypes: [String]) {
        for policy in policies {
            _ = Counter(label: "knify_pool_hits_total", dimensions: [("policy", policy)])
            _ = Counter(label: "knify_pool_misses_total", dimensions: [("policy", policy)])
        }
        for trigger in KnapRunner.triggers {
            _ = Counter(label: "knify_knap_runs_total", dimensions: [("trigger", trigger)])
        }
        for status in ["completed", "failed", "cancelled"] {
            for jobType in jobTypes {
                _ = Metrics.Timer(label: "knify_job_duration_seconds", dimensions: [("status", status), ("job_type", jobType)])
            }
        }
    }

    /// The exposition text, with the store-backed levels refreshed first.
    func scrape(store: any Store, node: String) async throws -> [UInt8] {
        for status in JobRecord.Status.allCases {
            let total = try await store.jobs(JobQuery(status: status, limit: 1)).total
            registry.makeGauge(name: "knify_jobs", labels: [("status", status.rawValue)], help: "Jobs by status").set(Double(total))
        }
        let live = try await store.liveSandboxes(node: node)
        for state in ["creating", "active", "paused"] {
            let count = live.filter { $0.state.rawValue == state }.count
            registry.makeGauge(name: "knify_sandboxes", labels: [("state", state)], help: "Live sandboxes of this node by state")
                .set(Double(count))
        }
        return registry.emitToBuffer()
    }
}
