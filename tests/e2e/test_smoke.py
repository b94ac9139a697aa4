def test_smoke(any_api):
    t = any_api.create_tenant()
    u = any_api.create_user(t["id"])
    r = any_api.call("GET", f"/users/{u['id']}")
    assert r.status_code == 200 and r.json()["email"] == u["email"]
