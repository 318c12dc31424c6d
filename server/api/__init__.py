"""The client API: model objects as the contract's protobuf messages and their JSON mirror."""
