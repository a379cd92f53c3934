"""Pages that belong to no one area: what's normal while marks fade."""


def test_whats_normal_explains_stages_timing_and_what_slows_it(client):
    response = client.get("/normal")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for stage in ("Fresh", "Turning", "Faint", "Faded"):
        assert f"{stage}</span>" in html
    assert "5 to 7 days" in html
    assert "thin the blood" in html and "Strong suction" in html
    # the red flags come from the same content file as the timeline's
    assert "Blisters or broken skin." in html and "not medical advice" in html
    assert "HX-Request" in response.headers["Vary"]


def test_whats_normal_is_linked_from_the_navigation(client, auth, people):
    auth.login(people["c1"])
    header = client.get("/client/").get_data(as_text=True).split("</header>")[0]
    assert 'href="/normal"' in header
