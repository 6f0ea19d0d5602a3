pytest_plugins = ["manager_shared.testing.fixtures", "manager_shared.testing.hangs"]
