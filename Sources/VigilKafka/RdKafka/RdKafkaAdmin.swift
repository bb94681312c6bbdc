import CRdKafka

// Admin requests (metadata, CreateTopics, DescribeConfigs). Each one is bounded: librdkafka gives
// up on the request after `timeout` and reports `_TIMED_OUT`, and the wait for its result allows a
// second more before this side gives up too, so a broker that never answers cannot hang the caller.

extension RdKafkaClient {
    /// The partition count of `topic` from a metadata request for *all* topics, nil when the
    /// cluster has no such topic. Asking for all topics rather than this one is what keeps the
    /// request from creating it: a broker with `auto.create.topics.enable` (and librdkafka 2.0.2's
    /// mock cluster, which ignores the request's flag) creates a topic named in a metadata request.
    func partitionCount(of topic: String, timeout: Duration) throws(KafkaError) -> Int? {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let code = rd_kafka_metadata(pointer, 1, nil, &metadata, timeout.kafkaMilliseconds)
        if code == RD_KAFKA_RESP_ERR__TIMED_OUT {
            throw .topicRequestTimedOut(request: "Metadata", topic: topic, timeout: timeout)
        }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw .topicRequestFailed(request: "Metadata", topic: topic, code: KafkaErrorCode(code), reason: "")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
        guard let entry = topics.first(where: { String(cString: $0.topic) == topic }),
            entry.err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
        else { return nil }
        if entry.partition_cnt == 0, let code = failure(entry.err) {
            throw .topicRequestFailed(request: "Metadata", topic: topic, code: code, reason: "")
        }
        return Int(entry.partition_cnt)
    }

    /// Creates one topic with the given properties (e.g. `cleanup.policy=compact`).
    func createTopic(
        _ topic: String, partitions: Int, replicationFactor: Int, properties: [(String, String)], timeout: Duration
    ) throws(KafkaError) {
        var errorText = [CChar](repeating: 0, count: 512)
        guard
            let newTopic = rd_kafka_NewTopic_new(
                topic, Int32(partitions), Int32(replicationFactor), &errorText, errorText.count)
        else {
            throw .topicRequestFailed(
                request: "CreateTopics", topic: topic, code: KafkaErrorCode(RD_KAFKA_RESP_ERR__INVALID_ARG),
                reason: String(cBuffer: errorText))
        }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        for (name, value) in properties {
            if let code = failure(rd_kafka_NewTopic_set_config(newTopic, name, value)) {
                throw .topicRequestFailed(request: "CreateTopics", topic: topic, code: code, reason: "property \(name)")
            }
        }
        let event = try adminRequest("CreateTopics", RD_KAFKA_ADMIN_OP_CREATETOPICS, topic: topic, timeout: timeout) {
            options, queue in
            var topics: [OpaquePointer?] = [newTopic]
            rd_kafka_CreateTopics(pointer, &topics, 1, options, queue)
        }
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        guard let result = rd_kafka_event_CreateTopics_result(event),
            let results = rd_kafka_CreateTopics_result_topics(result, &count)
        else { return }
        for index in 0..<count {
            guard let code = failure(rd_kafka_topic_result_error(results[index])) else { continue }
            throw .topicRequestFailed(
                request: "CreateTopics", topic: topic, code: code,
                reason: rd_kafka_topic_result_error_string(results[index]).map { String(cString: $0) } ?? "")
        }
    }

    /// Every configuration entry of `topic` (explicit and default values) as the broker reports them.
    func topicConfiguration(of topic: String, timeout: Duration) throws(KafkaError) -> [String: String] {
        guard let resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic) else {
            throw .topicRequestFailed(
                request: "DescribeConfigs", topic: topic, code: KafkaErrorCode(RD_KAFKA_RESP_ERR__INVALID_ARG),
                reason: "")
        }
        defer { rd_kafka_ConfigResource_destroy(resource) }
        let event = try adminRequest(
            "DescribeConfigs", RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, topic: topic, timeout: timeout
        ) {
            options, queue in
            var resources: [OpaquePointer?] = [resource]
            rd_kafka_DescribeConfigs(pointer, &resources, 1, options, queue)
        }
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        guard let result = rd_kafka_event_DescribeConfigs_result(event),
            let resources = rd_kafka_DescribeConfigs_result_resources(result, &count), count > 0,
            let described = resources[0]
        else {
            throw .topicRequestFailed(
                request: "DescribeConfigs", topic: topic, code: KafkaErrorCode(RD_KAFKA_RESP_ERR__BAD_MSG),
                reason: "the result names no topic")
        }
        if let code = failure(rd_kafka_ConfigResource_error(described)) {
            throw .topicRequestFailed(
                request: "DescribeConfigs", topic: topic, code: code,
                reason: rd_kafka_ConfigResource_error_string(described).map { String(cString: $0) } ?? "")
        }
        var entryCount = 0
        guard let entries = rd_kafka_ConfigResource_configs(described, &entryCount) else { return [:] }
        var configuration: [String: String] = [:]
        for index in 0..<entryCount {
            guard let entry = entries[index], let name = rd_kafka_ConfigEntry_name(entry) else { continue }
            configuration[String(cString: name)] = rd_kafka_ConfigEntry_value(entry).map { String(cString: $0) }
        }
        return configuration
    }

    /// Sends one admin request with its timeouts set, waits for its result event and turns a
    /// request-level error into a `KafkaError` naming `request` and `topic`. The caller destroys the event.
    private func adminRequest(
        _ request: String, _ operation: rd_kafka_admin_op_t, topic: String, timeout: Duration,
        submit: (OpaquePointer, OpaquePointer) -> Void
    ) throws(KafkaError) -> OpaquePointer {
        let options = rd_kafka_AdminOptions_new(pointer, operation)!
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errorText = [CChar](repeating: 0, count: 512)
        let milliseconds = max(1, timeout.kafkaMilliseconds)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, milliseconds, &errorText, errorText.count)
        if operation == RD_KAFKA_ADMIN_OP_CREATETOPICS {
            _ = rd_kafka_AdminOptions_set_operation_timeout(options, milliseconds, &errorText, errorText.count)
        }
        let queue = rd_kafka_queue_new(pointer)!
        defer { rd_kafka_queue_destroy(queue) }
        submit(options, queue)
        guard let event = rd_kafka_queue_poll(queue, (timeout + .seconds(1)).kafkaMilliseconds) else {
            throw .topicRequestTimedOut(request: request, topic: topic, timeout: timeout)
        }
        let code = rd_kafka_event_error(event)
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return event }
        defer { rd_kafka_event_destroy(event) }
        if code == RD_KAFKA_RESP_ERR__TIMED_OUT {
            throw .topicRequestTimedOut(request: request, topic: topic, timeout: timeout)
        }
        throw .topicRequestFailed(
            request: request, topic: topic, code: KafkaErrorCode(code),
            reason: rd_kafka_event_error_string(event).map { String(cString: $0) } ?? "")
    }
}
