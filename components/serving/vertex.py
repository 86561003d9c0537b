"""The model a Vertex AI Endpoint serves: where its SavedModel lies (the Model's artifact_uri).

The Endpoint is found as TFX's Vertex Pusher finds it (display_name filter, first match), so
the baseline is looked up where the Pusher deploys. The Pusher deploys with 100% of the
traffic; after a manual change of the traffic split, the model taking the most traffic is the
one serving. google-cloud-aiplatform is imported only when an Endpoint is looked up.
"""


def serving_deployed_model(deployed_models, traffic_split):
    """The DeployedModel taking the largest share of traffic_split ({deployed model id:
    percent}), or None when none takes any; ties go to the later one in the list."""
    best, best_share = None, 0
    for deployed in deployed_models:
        share = (traffic_split or {}).get(deployed.id, 0)
        if share > 0 and share >= best_share:
            best, best_share = deployed, share
    return best


def served_model_uri(project, region, endpoint_name):
    """(artifact URI of the model the Endpoint serves, or None; where it came from, or why
    there is none)."""
    from google.cloud import aiplatform  # pylint: disable=import-outside-toplevel
    aiplatform.init(project=project, location=region)
    endpoints = aiplatform.Endpoint.list(filter=f'display_name="{endpoint_name}"')
    where = f"Vertex AI Endpoint {endpoint_name!r} ({project}, {region})"
    if not endpoints:
        return None, f"no {where} yet (nothing pushed yet)"
    endpoint = endpoints[0]
    deployed = serving_deployed_model(endpoint.list_models(), endpoint.traffic_split)
    if deployed is None:
        return None, f"{where} has no deployed model taking traffic"
    uri = aiplatform.Model(model_name=deployed.model).uri
    if not uri:
        return None, f"{where} serves {deployed.model}, which has no artifact_uri to evaluate"
    return uri, f"{where}: model {deployed.display_name or deployed.model} ({deployed.model})"
