/** The repository's root folder, wherever a test file sits below `__tests__/`. */
export { PROJECT_ROOT } from "../../common/project";
