pytest_plugins = ["manager_shared.testing.fixtures"]
