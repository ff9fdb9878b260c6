/// What `load` and `start` do with a 2.x collection that already exists and that this job did
/// not create (`target.milvus2x.onExisting`).
public enum OnExisting: String, Sendable, CaseIterable {
    /// Stop with an error naming it (the default).
    case fail
    /// Leave it alone and migrate the other collections.
    case skip
    /// Check its schema and import into it; the count check allows for the rows it had.
    case append
    /// Drop it and create it anew.
    case drop
}
