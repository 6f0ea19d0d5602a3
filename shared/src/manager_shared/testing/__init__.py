"""Real components for tests and the local platform: the Tansu Kafka-protocol
broker, PostgreSQL, and an SMTP catcher. No mocks standing in for them."""
