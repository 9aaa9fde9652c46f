"""GitHub: GET /users/{user} and /repos/{owner}/{repo} (shapes from docs/platform-apis.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from simulator.types import Answer
from simulator.world import numeric_id

if TYPE_CHECKING:
    from simulator.server import Simulator


def _github_gate(request: Request) -> Answer | None:
    if not request.headers.get("user-agent"):
        return Answer(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a "
            "User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).",
        )
    return None


_GITHUB_404 = {
    "message": "Not Found",
    "documentation_url": "https://docs.github.com/rest/users/users#get-a-user",
    "status": "404",
}


async def github_user(sim: Simulator, request: Request) -> Answer:
    refused = _github_gate(request)
    if refused:
        return refused
    handle = request.path_params["user"].lower()
    state = sim.state("github", handle)
    if state is None or "/" in handle:
        return Answer(404, _GITHUB_404)
    return Answer(
        200,
        {
            "login": handle,
            "id": int(numeric_id(f"github:{handle}")),
            "node_id": "MDQ6VXNlcjE=",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{numeric_id(handle)}?v=4",
            "url": f"https://api.github.com/users/{handle}",
            "html_url": f"https://github.com/{handle}",
            "type": "User",
            "site_admin": False,
            "name": sim.display_name("github", handle),
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": "simulated",
            "twitter_username": None,
            "public_repos": state.posts or 0,
            "public_gists": 0,
            "followers": state.followers,
            "following": state.following or 0,
            "created_at": "2015-01-14T04:33:35Z",
            "updated_at": "2024-01-15T10:00:00Z",
        },
    )


async def github_repo(sim: Simulator, request: Request) -> Answer:
    refused = _github_gate(request)
    if refused:
        return refused
    handle = f"{request.path_params['owner']}/{request.path_params['repo']}".lower()
    state = sim.state("github", handle)
    if state is None:
        return Answer(
            404,
            _GITHUB_404
            | {"documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository"},
        )
    return Answer(
        200,
        {
            "id": int(numeric_id(f"github:{handle}")),
            "name": handle.split("/")[1],
            "full_name": handle,
            "private": False,
            "stargazers_count": state.followers,
            "watchers_count": state.followers,
            "forks_count": 0,
            "subscribers_count": 0,
            "open_issues_count": 0,
            "created_at": "2016-01-01T00:00:00Z",
        },
    )
