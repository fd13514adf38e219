/** A page that imports smelt in a browser without WebGPU and records the backend and one result. */
import { getBackend, jit, np } from "../../../browser.js";

const y = await jit((x) => np.multiply(x, 2))(np.array([1, 2, 3])).data();
document.body.dataset.state = `${getBackend().name} ${Array.from(y)}`;
