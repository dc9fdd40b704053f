from services.billing.domain.cost_model import CostModel


def test_seed_cost_model_per_request():
    total, per_request = CostModel().per_request(requests=100_000, storage_tb=1.0)
    expected = 1.006 * 4 * 730 + 0.17 * 3 * 730 + 200 + 150 + 23
    assert abs(total - expected) < 1e-6
    assert abs(per_request - expected / 100_000) < 1e-9
    assert CostModel().per_request(0)[1] == 0.0
