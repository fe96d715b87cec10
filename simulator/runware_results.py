"""Result items of the Runware simulator.

One ``data`` item per ``numberResults``, all with the task's ``taskUUID`` and a fresh
``imageUUID``; the image key follows ``outputType`` (``imageURL`` served by the simulator,
``imageBase64Data`` raw, ``imageDataURI`` with its prefix), the bytes follow ``outputFormat``
(JPG by default; PNG/WEBP keep the alpha of a transparent background); ``cost`` (USD, a JSON
number) only with ``includeCost``; ``NSFWContent`` only with ``safety.checkContent``; ``seed`` a
random integer.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from simulator.render import RenderCache, open_image
from simulator.runware_images import EXTENSIONS, ImageStore, encode_b64
from simulator.runware_tasks import InferenceJob

_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}

UrlFor = Callable[[str], str]  # file name -> absolute URL of the image route


async def render_items(
    job: InferenceJob,
    *,
    prompt: str,
    cache: RenderCache,
    store: ImageStore,
    url_for: UrlFor,
    nsfw: bool = False,
) -> list[dict[str, Any]]:
    """The ``data`` items of one successful task."""
    base = next((r.data for r in job.references if r.data is not None), None)
    base_image = open_image(base) if base is not None else None
    base_key = hashlib.blake2b(base, digest_size=8).hexdigest() if base is not None else ""
    media_type = _MIME[job.output_format]
    items = []
    for index in range(job.number_results):
        data = await cache.render(
            job.width,
            job.height,
            job.output_format,
            prompt=prompt,
            seed=index,
            transparent=job.transparent,
            quality=job.output_quality,
            base=base_image,
            base_key=base_key,
        )
        image_uuid = str(uuid.uuid4())
        store.put(image_uuid, data, media_type)
        item: dict[str, Any] = {
            "taskType": "imageInference",
            "taskUUID": job.task_uuid,
            "imageUUID": image_uuid,
        }
        for output_type in job.output_types:
            if output_type == "URL":
                item["imageURL"] = url_for(f"{image_uuid}.{EXTENSIONS[media_type]}")
            elif output_type == "base64Data":
                item["imageBase64Data"] = encode_b64(data)
            else:
                item["imageDataURI"] = f"data:{media_type};base64,{encode_b64(data)}"
        item["seed"] = secrets.randbelow(2**31)
        if job.check_content:
            item["NSFWContent"] = nsfw
        if job.include_cost:
            item["cost"] = float(job.unit_cost)  # a JSON number, as Runware sends it
        items.append(item)
    return items


def upload_item(task_uuid: str, image_uuid: str, url: str) -> dict[str, Any]:
    """The answer to an ``imageUpload`` task (§6)."""
    return {
        "taskType": "imageUpload",
        "taskUUID": task_uuid,
        "imageUUID": image_uuid,
        "imageURL": url,
    }


def processing_item(task_uuid: str, progress: int) -> dict[str, Any]:
    """A ``getResponse`` item for a task still running (§2)."""
    return {
        "taskType": "imageInference",
        "taskUUID": task_uuid,
        "status": "processing",
        "progress": progress,
    }
